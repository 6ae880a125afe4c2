#!/usr/bin/env python3
"""The reference point of the benchmarks: DuckDB's best keyed diff.

Best SQL: hash every row per side, FULL OUTER JOIN on the key, classify by the hashes, and
compute per-column detail only for the rows whose hashes differ. A column whose type differs
between the sides is cast to the target's type on both (DuckDB hashes a DECIMAL(15,2) and a
DECIMAL(18,4) of one value differently). Prints wall time and peak RSS (of this process, which
runs DuckDB in-process), and the decode time of both sides. Needs duckdb (benches/reconcile.sh
puts duckdb==2.0.1 into target/bench-venv).

    python3 benches/duckdb_compare.py bench-data/10000000
    python3 benches/duckdb_compare.py LEGACY_GLOB TARGET_GLOB key1,key2
"""
import resource
import sys
import time

import duckdb

if len(sys.argv) > 2:
    legacy, target, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
else:
    root = sys.argv[1] if len(sys.argv) > 1 else "bench-data/10000000"
    legacy = f"{root}/legacy/service_orders.parquet"
    target = f"{root}/target/service_orders.parquet"
    keys = ["order_id"]
con = duckdb.connect()
def types(path):
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}
lt, tt = types(legacy), types(target)
cols = list(lt)
values = [c for c in cols if c not in keys and c in tt]
def expr(c):
    return c if lt[c] == tt[c] else f"CAST({c} AS {tt[c]})"
row = ", ".join(expr(c) for c in values)
named = ", ".join(e if e == c else f"{e} AS {c}" for c, e in ((c, expr(c)) for c in values))
key = ", ".join(keys)
on = " AND ".join(f"l.{k} = t.{k}" for k in keys)
first = keys[0]

t0 = time.time()
con.execute(f"""
CREATE TEMP TABLE diff AS
WITH l AS (SELECT {key}, hash({row}) AS h FROM read_parquet('{legacy}')),
     t AS (SELECT {key}, hash({row}) AS h FROM read_parquet('{target}'))
SELECT {", ".join(f"coalesce(l.{k}, t.{k}) AS {k}" for k in keys)},
       CASE WHEN l.{first} IS NULL THEN 'extra'
            WHEN t.{first} IS NULL THEN 'missing'
            WHEN l.h = t.h THEN 'matched' ELSE 'changed' END AS category
FROM l FULL OUTER JOIN t ON {on}
""")
counts = dict(con.execute("SELECT category, count(*) FROM diff GROUP BY 1").fetchall())
detail = ", ".join(
    f"sum(CASE WHEN l.{c} IS DISTINCT FROM t.{c} THEN 1 ELSE 0 END) AS {c}" for c in values)
side = lambda path: f"(SELECT {key}, {named} FROM read_parquet('{path}'))"
per_column = con.execute(f"""
SELECT {detail}
FROM (SELECT {key} FROM diff WHERE category = 'changed') d
JOIN {side(legacy)} l USING ({key})
JOIN {side(target)} t USING ({key})
""").fetchone()
t1 = time.time()
decode0 = time.time()
con.execute(f"SELECT count(*), {', '.join(f'max({c})' for c in cols)} FROM read_parquet('{legacy}')").fetchall()
con.execute(f"SELECT count(*), {', '.join(f'max({c})' for c in cols if c in tt)} FROM read_parquet('{target}')").fetchall()
decode1 = time.time()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"duckdb {duckdb.__version__}: keyed diff {t1 - t0:.2f} s, decode both {decode1 - decode0:.2f} s, peak RSS {rss:.0f} MiB")
print("  counts:", counts)
print("  changed per column:", {c: n for c, n in zip(values, per_column) if n})
