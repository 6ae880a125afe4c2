#!/usr/bin/env python3
"""The target side of the TPC-H bench: what another engine made of tpchgen-cli's tables.

For each table named, DuckDB reads DIR/legacy/<table>.parquet and writes DIR/target/<table>/:
every DECIMAL(15,2) re-typed to DECIMAL(18,4), rows shuffled, split into 8 files (one file below
1M rows), zstd. Tables of at least 10,000 rows also get about 40 edits (0.01 added to one
decimal column) and about 100 dropped rows; `lineitem` keeps its fixed rates (about one edit
in 1.5M rows and one drop in 588,000: 42 and 95 at SF10). `region` and `nation` are only
re-typed and shuffled.

    python3 benches/tpch_target.py bench-data/tpch-sf10 lineitem orders
"""
import os
import shutil
import sys

import duckdb

# table: (key, the decimal column edited)
TABLES = {
    "region": (["r_regionkey"], None),
    "nation": (["n_nationkey"], None),
    "supplier": (["s_suppkey"], "s_acctbal"),
    "customer": (["c_custkey"], "c_acctbal"),
    "part": (["p_partkey"], "p_retailprice"),
    "partsupp": (["ps_partkey", "ps_suppkey"], "ps_supplycost"),
    "orders": (["o_orderkey"], "o_totalprice"),
    "lineitem": (["l_orderkey", "l_linenumber"], "l_extendedprice"),
}

root, names = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
for name in names:
    if name not in TABLES:
        sys.exit(f"unknown TPC-H table {name!r}: expected one of {', '.join(TABLES)}")
    keys, edited = TABLES[name]
    legacy = f"{root}/legacy/{name}.parquet"
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{legacy}')").fetchone()[0]
    if name == "lineitem":
        every_edit, every_drop = 1_500_000, 588_000
    elif edited and rows >= 10_000:
        every_edit, every_drop = rows // 40, rows // 100
    else:
        every_edit = every_drop = None
    key = ", ".join(keys)
    # The drop draws from another hash than the edit: the first key column times 7.
    drop_key = ", ".join([f"{keys[0]} * 7"] + keys[1:])
    columns = []
    for column, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{legacy}')").fetchall():
        value = column
        if column == edited and every_edit:
            value = f"CASE WHEN hash({key}) % {every_edit} = 7 THEN {column} + 0.01 ELSE {column} END"
        if kind.startswith("DECIMAL"):
            value = f"CAST({value} AS DECIMAL(18,4))"
        columns.append(value if value == column else f"{value} AS {column}")
    files = 8 if rows >= 1_000_000 else 1
    where = f"WHERE hash({drop_key}) % {every_drop} <> 3" if every_drop else ""
    # Written beside the table's folder and renamed at the end: a folder there is complete.
    out = f"{root}/target/{name}.tmp"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(f"{root}/target", exist_ok=True)
    con.execute(f"""
COPY (
  SELECT {", ".join(columns)}, (hash({key}) % {files}) AS part
  FROM read_parquet('{legacy}')
  {where}
  ORDER BY hash({key}, 42)
) TO '{out}' (FORMAT parquet, PARTITION_BY (part), COMPRESSION zstd, WRITE_PARTITION_COLUMNS false)
""")
    # Hive folders `part=N/` hold the files: flatten them into the table's folder.
    moved = 0
    for d in sorted(os.listdir(out)):
        for f in sorted(os.listdir(f"{out}/{d}")):
            os.rename(f"{out}/{d}/{f}", f"{out}/{name}-{moved}.parquet")
            moved += 1
        os.rmdir(f"{out}/{d}")
    shutil.rmtree(f"{root}/target/{name}", ignore_errors=True)
    os.rename(out, f"{root}/target/{name}")
    out = f"{root}/target/{name}"
    target = con.execute(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchone()[0]
    print(f"  {name}: legacy {rows} rows, target {target} rows in {moved} file(s) ({rows - target} dropped)")
