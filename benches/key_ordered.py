#!/usr/bin/env python3
"""The key-ordered variant of a bench data set: both sides rewritten by DuckDB sorted by key.

Reads SRC/recon.toml (or the config SRC names), copies to DST the configs of its folder that
name only its tables, and for each table writes DST/legacy/<table>/<table>-<i>.parquet and DST/target/<table>/... : rows
sorted by the table's key, zstd, row groups of up to 1M rows, and split the same way on both
sides (a table of at least 1M legacy rows into FILES files, 8 unless given, a smaller one into
one file), each file one range of the first key column, with the same bounds on both sides
(quantiles of the legacy side). Edits, drops and types of the target stay as they are.

    python3 benches/key_ordered.py bench-data/10000000 bench-data/10000000-ordered
    python3 benches/key_ordered.py bench-data/tpch-sf10/lineitem.toml bench-data/tpch-sf10-ordered 8
"""
import decimal
import os
import shutil
import sys
import tomllib

import duckdb

src, dst = sys.argv[1], sys.argv[2]
files = int(sys.argv[3]) if len(sys.argv) > 3 else 8
config_path = src if src.endswith(".toml") else f"{src}/recon.toml"
src = os.path.dirname(config_path)
config = tomllib.load(open(config_path, "rb"))


def table_files(root, name):
    """A table's Parquet files under a root: `name.parquet` or the folder `name/`."""
    single = f"{root}/{name}.parquet"
    if os.path.isfile(single):
        return [single]
    folder = f"{root}/{name}"
    found = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".parquet"))
    if not found:
        sys.exit(f"{src}: table {name}: neither {single} nor Parquet files under {folder}/")
    return found


def literal(v):
    """A bound as SQL: numbers as they are, anything else (text, dates) as a quoted string."""
    if isinstance(v, (int, float, decimal.Decimal)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


con = duckdb.connect()
con.execute("SET preserve_insertion_order = true")
tmp = f"{dst}.tmp"
shutil.rmtree(tmp, ignore_errors=True)
for table in config["tables"]:
    name, keys = table["name"], table["key"]
    sources = {side: table_files(f"{src}/{config[side]['root']}", name) for side in ("legacy", "target")}
    scan = {side: f"read_parquet({paths})" for side, paths in sources.items()}
    first = keys[0]
    rows = con.execute(f"SELECT count(*) FROM {scan['legacy']}").fetchone()[0]
    n = files if rows >= 1_000_000 else 1
    bounds = []
    if n > 1:
        quantiles = [i / n for i in range(1, n)]
        bounds = sorted(set(con.execute(
            f"SELECT quantile_disc({first}, {quantiles}) FROM {scan['legacy']}").fetchone()[0]))
    ranges = [None] + bounds
    for side in ("legacy", "target"):
        out = f"{tmp}/{config[side]['root']}/{name}"
        os.makedirs(out)
        for i, low in enumerate(ranges):
            high = bounds[i] if i < len(bounds) else None
            # NULL keys go last (DuckDB sorts them last): into the last file.
            where = " AND ".join(
                [f"{first} >= {literal(low)}"] * (low is not None)
                + [f"{first} < {literal(high)}"] * (high is not None)) or "true"
            if high is None:
                where = f"({where}) OR {first} IS NULL"
            con.execute(f"""
COPY (SELECT * FROM {scan[side]} WHERE {where} ORDER BY {", ".join(keys)})
TO '{out}/{name}-{i}.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
""")
        written = con.execute(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchone()[0]
        read = con.execute(f"SELECT count(*) FROM {scan[side]}").fetchone()[0]
        if written != read:
            sys.exit(f"{src}: table {name}, {side}: wrote {written} rows of {read}")
        print(f"  {name} {side}: {written} rows in {len(ranges)} file(s), sorted by {', '.join(keys)}")
# The configs over these tables only (not, say, checks over a table left out).
names = {t["name"] for t in config["tables"]}
for f in sorted(os.listdir(src)):
    if f.endswith(".toml"):
        tables = tomllib.load(open(f"{src}/{f}", "rb")).get("tables", [])
        if tables and {t["name"] for t in tables} <= names:
            shutil.copy(f"{src}/{f}", f"{tmp}/{f}")
shutil.rmtree(dst, ignore_errors=True)
os.rename(tmp, dst)
