#!/usr/bin/env bash
# Real data: TPC-H (SF10 by default). recon against DuckDB, alternating, medians of ROUNDS (3):
# recon's decode floor, `recon run`, DuckDB counting the categories only (the lower bound of any
# SQL reconciliation) and DuckDB's full job (the categories and, for the changed rows, the
# changed rows per column). Prints time, rows/s, peak RSS and bytes written to disk of each, and
# checks that DuckDB's full job finds recon's counts.
#
# TABLES=lineitem (the default): `lineitem` only (60M rows a side at SF10, composite key, 16
# columns, long `l_comment` strings). TABLES=all: all eight tables in one run (region, nation,
# supplier, customer, part, partsupp, orders, lineitem; 86.6M rows a side at SF10).
#
# The legacy side is tpchgen-cli's output as it is. The target is what another engine made of
# it (benches/tpch_target.py): DuckDB re-types the decimals (DECIMAL(15,2) -> DECIMAL(18,4)),
# shuffles the rows, splits the tables of 1M rows or more into 8 files, edits about 40 values
# and drops about 100 rows of every table of 10,000 rows or more (lineitem: 42 edits and 95
# drops at SF10). Data go to bench-data/tpch-sf$SF (recon.toml: all eight tables;
# lineitem.toml: lineitem), made on first use.
#
# ORDERED=1: the key-ordered variant, bench-data/tpch-sf$SF-ordered (benches/key_ordered.py):
# both sides rewritten sorted by key, each table of 1M rows or more split the same way on both
# sides into 8 files of one key range each, zstd, row groups of 1M rows.
#
# Tools come from PyPI into target/bench-venv (tpchgen-cli, duckdb), made on first use. Every
# Parquet file is read once before the first timed run. GEN_ONLY=1: make the data and stop.
# RECON_BIN, RECON_THREADS, BENCH_VENV: see benches/lib.sh.
#
#   bash benches/tpch.sh                          # SF10 lineitem
#   TABLES=all bash benches/tpch.sh               # SF10, all eight tables
#   ORDERED=1 bash benches/tpch.sh                # SF10 lineitem, both sides sorted by key
#   ORDERED=1 TABLES=all bash benches/tpch.sh
#   SF=1 bash benches/tpch.sh                     # SF1, 6M lineitem rows a side
#   SF=1 RECON_BIN=/path/to/recon bash benches/tpch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
sf=${SF:-10}
all=(region nation supplier customer part partsupp orders lineitem)
case ${TABLES:-lineitem} in
  lineitem) tables=(lineitem); config=lineitem.toml ;;
  all) tables=("${all[@]}"); config=recon.toml ;;
  *) echo "TABLES must be lineitem or all, not ${TABLES}" >&2; exit 2 ;;
esac
bench_tools "[ -x $venv/bin/tpchgen-cli ] && $venv/bin/python -c 'import duckdb'" 'duckdb==2.0.1' 'tpchgen-cli==4.0.0'
declare -A keys=(
  [region]='"r_regionkey"' [nation]='"n_nationkey"' [supplier]='"s_suppkey"'
  [customer]='"c_custkey"' [part]='"p_partkey"' [partsupp]='"ps_partkey", "ps_suppkey"'
  [orders]='"o_orderkey"' [lineitem]='"l_orderkey", "l_linenumber"'
)
# write_config FILE TABLE...: a recon config over the tables.
write_config() {
  local file=$1 t
  shift
  printf '[legacy]\nroot = "legacy"\n\n[target]\nroot = "target"\n' >"$file"
  for t in "$@"; do
    printf '\n[[tables]]\nname = "%s"\nkey = [%s]\n' "$t" "${keys[$t]}" >>"$file"
  done
}
dir=bench-data/tpch-sf$sf
missing=()
for t in "${tables[@]}"; do
  [ -f "$dir/legacy/$t.parquet" ] && [ -d "$dir/target/$t" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "generating TPC-H SF$sf ${missing[*]} into $dir ..."
  mkdir -p "$dir/legacy"
  rm -rf "$dir/gen"
  "$venv/bin/tpchgen-cli" parquet -q -s "$sf" --tables "$(IFS=,; echo "${missing[*]}")" --output-dir "$dir/gen"
  for t in "${missing[@]}"; do mv "$dir/gen/$t.parquet" "$dir/legacy/$t.parquet"; done
  rmdir "$dir/gen"
  "$venv/bin/python" benches/tpch_target.py "$dir" "${missing[@]}"
fi
write_config "$dir/lineitem.toml" lineitem
complete=1
for t in "${all[@]}"; do [ -d "$dir/target/$t" ] || complete=; done
[ -z "$complete" ] || write_config "$dir/recon.toml" "${all[@]}"
label="TPC-H SF$sf $([ "$config" = recon.toml ] && echo "all eight tables" || echo lineitem)"
if [ -n "${ORDERED:-}" ]; then
  ordered_copy "$dir/$config"
  dir=$dir-ordered
  label="$label, both sides sorted by key"
fi
[ -z "${GEN_ONLY:-}" ] || exit 0
recon_bin
warm "$dir/legacy" "$dir/target"
bench "$label" "$dir/$config"
