#!/usr/bin/env python3
"""The reference point of the benchmarks: DuckDB's best keyed diff, in two depths.

- counts only (`--counts-only`): hash every row per side, FULL OUTER JOIN on the key, count the
  categories (matched, changed, missing, extra). The lower bound of any SQL reconciliation.
- the full job (the default): the same join kept as a temp table of keys and categories, then
  for the changed rows joined back to both sides, per column the number of rows in which
  `l.col IS DISTINCT FROM t.col`: what recon reports.

A column whose type differs between the sides is cast to the target's type on both (DuckDB
hashes a DECIMAL(15,2) and a DECIMAL(18,4) of one value differently; the cast compares decimals
by value). Tables and keys come from a recon config (its `[[tables]]`, each table
`<root>/<name>.parquet` or the Parquet files under `<root>/<name>/`), or from two globs and a
key. All tables run in one connection; the time is their sum. Prints the wall time, peak RSS
and bytes written to disk (temp files) of this process, which runs DuckDB in-process; with
`--check REPORT_JSON`, whether recon's report has the same counts. Needs duckdb (the bench
scripts put duckdb==2.0.1 into target/bench-venv).

    python3 benches/duckdb_compare.py bench-data/10000000            # its recon.toml
    python3 benches/duckdb_compare.py --counts-only bench-data/tpch-sf10/recon.toml
    python3 benches/duckdb_compare.py --table lineitem --check out/report.json bench-data/tpch-sf10/recon.toml
    python3 benches/duckdb_compare.py LEGACY_GLOB TARGET_GLOB key1,key2
"""
import argparse
import json
import os
import resource
import sys
import time
import tomllib

import duckdb

parser = argparse.ArgumentParser(description="DuckDB's keyed diff of the bench data sets")
parser.add_argument("--counts-only", action="store_true", help="categories only, no per-column counts")
parser.add_argument("--table", action="append", default=[], help="only this table of the config (repeatable)")
parser.add_argument("--check", metavar="REPORT_JSON", help="compare the counts with recon's report")
parser.add_argument("source", nargs="*", default=["bench-data/10000000"],
                    help="a recon config, a folder holding recon.toml, or LEGACY_GLOB TARGET_GLOB KEYS")
args = parser.parse_args()


def table_glob(root, name):
    single = f"{root}/{name}.parquet"
    return single if os.path.isfile(single) else f"{root}/{name}/**/*.parquet"


if len(args.source) == 3:
    legacy, target, keys = args.source
    tables = [("table", legacy, target, keys.split(","))]
elif len(args.source) == 1:
    path = args.source[0]
    path = path if path.endswith(".toml") else f"{path}/recon.toml"
    base = os.path.dirname(path)
    config = tomllib.load(open(path, "rb"))
    roots = {side: os.path.join(base, config[side]["root"]) for side in ("legacy", "target")}
    tables = [(t["name"], table_glob(roots["legacy"], t["name"]), table_glob(roots["target"], t["name"]), t["key"])
              for t in config["tables"] if not args.table or t["name"] in args.table]
    if not tables:
        sys.exit(f"{path}: no table {' or '.join(args.table)}")
else:
    parser.error("expected a recon config, a folder, or LEGACY_GLOB TARGET_GLOB KEYS")

con = duckdb.connect()


def types(path):
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}


def diff(legacy, target, keys):
    """One table's counts per category and, for the full job, changed rows per column."""
    lt, tt = types(legacy), types(target)
    values = [c for c in lt if c not in keys and c in tt]
    expr = {c: c if lt[c] == tt[c] else f"CAST({c} AS {tt[c]})" for c in values}
    row = ", ".join(expr.values())
    key = ", ".join(keys)
    on = " AND ".join(f"l.{k} = t.{k}" for k in keys)
    first = keys[0]
    sides = f"""
WITH l AS (SELECT {key}, hash({row}) AS h FROM read_parquet('{legacy}')),
     t AS (SELECT {key}, hash({row}) AS h FROM read_parquet('{target}'))"""
    category = f"""CASE WHEN l.{first} IS NULL THEN 'extra'
            WHEN t.{first} IS NULL THEN 'missing'
            WHEN l.h = t.h THEN 'matched' ELSE 'changed' END"""
    if args.counts_only:
        counts = dict(con.execute(f"""{sides}
SELECT {category} AS category, count(*) FROM l FULL OUTER JOIN t ON {on} GROUP BY 1""").fetchall())
        return counts, None
    con.execute(f"""CREATE OR REPLACE TEMP TABLE diff AS {sides}
SELECT {", ".join(f"coalesce(l.{k}, t.{k}) AS {k}" for k in keys)}, {category} AS category
FROM l FULL OUTER JOIN t ON {on}""")
    counts = dict(con.execute("SELECT category, count(*) FROM diff GROUP BY 1").fetchall())
    detail = ", ".join(f"count(*) FILTER (WHERE l.{c} IS DISTINCT FROM t.{c})" for c in values)
    named = ", ".join(e if e == c else f"{e} AS {c}" for c, e in expr.items())
    side = lambda path: f"(SELECT {key}, {named} FROM read_parquet('{path}'))"
    per_column = con.execute(f"""
SELECT {detail}
FROM (SELECT {key} FROM diff WHERE category = 'changed') d
JOIN {side(legacy)} l USING ({key})
JOIN {side(target)} t USING ({key})""").fetchone()
    con.execute("DROP TABLE diff")
    return counts, {c: n for c, n in zip(values, per_column) if n}


results = {}
t0 = time.time()
for name, legacy, target, keys in tables:
    results[name] = diff(legacy, target, keys)
t1 = time.time()
usage = resource.getrusage(resource.RUSAGE_SELF)
rows = sum(c.get("matched", 0) * 2 + c.get("changed", 0) * 2 + c.get("missing", 0) + c.get("extra", 0)
           for c, _ in results.values())
job = "counts only" if args.counts_only else "full job"
print(f"duckdb {duckdb.__version__}, {job}: {rows} rows in {t1 - t0:.2f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MiB, "
      f"written {usage.ru_oublock * 512 / 2**20:.1f} MiB")
for name, (counts, per_column) in results.items():
    print(f"  {name}: {', '.join(f'{k} {counts.get(k, 0)}' for k in ('matched', 'changed', 'missing', 'extra'))}"
          + (f"; changed per column {per_column}" if per_column is not None else ""))
if args.check:
    report = {t["name"]: t for t in json.load(open(args.check))["tables"]}
    differences = []
    for name, (counts, per_column) in results.items():
        theirs = report.get(name)
        if theirs is None:
            differences.append(f"{name}: not in the report")
            continue
        for k in ("matched", "changed", "missing", "extra"):
            if counts.get(k, 0) != theirs[k]:
                differences.append(f"{name} {k}: duckdb {counts.get(k, 0)}, recon {theirs[k]}")
        recon_columns = {c: d["changed"] for c, d in theirs["columns"].items() if d["changed"]}
        if per_column is not None and per_column != recon_columns:
            differences.append(f"{name} per column: duckdb {per_column}, recon {recon_columns}")
    print("  same counts as recon's report" if not differences
          else "  DIFFERENT counts from recon's report: " + "; ".join(differences))
