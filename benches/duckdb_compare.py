#!/usr/bin/env python3
"""The reference point of the issue: DuckDB's keyed diff of the bench data set.

Best SQL: hash every row per side, FULL OUTER JOIN on the key, classify by the hashes, and
compute per-column detail only for the rows whose hashes differ. Prints wall time and peak RSS
(of this process, which runs DuckDB in-process). Needs `pip install duckdb`.

    python3 benches/duckdb_compare.py bench-data/10000000
"""
import resource
import sys
import time

import duckdb

root = sys.argv[1] if len(sys.argv) > 1 else "bench-data/10000000"
legacy = f"{root}/legacy/service_orders.parquet"
target = f"{root}/target/service_orders.parquet"
con = duckdb.connect()
cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{legacy}')").fetchall()]
values = [c for c in cols if c != "order_id"]
row = ", ".join(values)

t0 = time.time()
con.execute(f"""
CREATE TEMP TABLE diff AS
WITH l AS (SELECT order_id, hash({row}) AS h FROM read_parquet('{legacy}')),
     t AS (SELECT order_id, hash({row}) AS h FROM read_parquet('{target}'))
SELECT coalesce(l.order_id, t.order_id) AS order_id,
       CASE WHEN l.order_id IS NULL THEN 'extra'
            WHEN t.order_id IS NULL THEN 'missing'
            WHEN l.h = t.h THEN 'matched' ELSE 'changed' END AS category
FROM l FULL OUTER JOIN t ON l.order_id = t.order_id
""")
counts = dict(con.execute("SELECT category, count(*) FROM diff GROUP BY 1").fetchall())
detail = ", ".join(f"sum(CASE WHEN l.{c} IS DISTINCT FROM t.{c} THEN 1 ELSE 0 END) AS {c}" for c in values)
per_column = con.execute(f"""
SELECT {detail}
FROM (SELECT order_id FROM diff WHERE category = 'changed') d
JOIN read_parquet('{legacy}') l USING (order_id)
JOIN read_parquet('{target}') t USING (order_id)
""").fetchone()
t1 = time.time()
decode0 = time.time()
con.execute(f"SELECT count(*), {', '.join(f'max({c})' for c in cols)} FROM read_parquet('{legacy}')").fetchall()
con.execute(f"SELECT count(*), {', '.join(f'max({c})' for c in cols)} FROM read_parquet('{target}')").fetchall()
decode1 = time.time()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"duckdb {duckdb.__version__}: keyed diff {t1 - t0:.2f} s, decode both {decode1 - decode0:.2f} s, peak RSS {rss:.0f} MiB")
print("  counts:", counts)
print("  changed per column:", dict(zip(values, per_column)))
