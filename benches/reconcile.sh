#!/usr/bin/env bash
# End-to-end benchmark against DuckDB. For each size (rows per side), generate the bench data set
# once with `recon gen --profile bench` (15 mixed columns, ~0.1 % changed, 0.05 % missing and
# extra, target shuffled, zstd row groups of 1M rows), then alternate, ROUNDS times (3): recon's
# decode floor, `recon run` with its defaults, DuckDB counting the categories only and DuckDB's
# full job (benches/duckdb_compare.py). Prints medians of time and rows/s, bytes written to disk
# and the peak RSS of each, and checks that DuckDB's full job finds recon's counts.
#
# For the largest size it then runs recon with `--memory-budget 1GiB` and `256MiB` and checks
# that both reports give the same counts as the default run. Then the wall time of the count,
# total and orphan checks of checks.toml.
#
# ORDERED=1: the key-ordered variant. Both sides of bench-data/N are rewritten by DuckDB sorted
# by the key into bench-data/N-ordered (benches/key_ordered.py: 8 files a side of one key range
# each, the same ranges on both sides, zstd, row groups of 1M rows; its own recon.toml), made
# on first use; the runs and budgets above on it (no SQL checks: it has no `vehicles`).
#
# DuckDB (duckdb==2.0.1) comes from PyPI into target/bench-venv, made on first use. Every
# Parquet file is read once before the first timed run. RECON_BIN, RECON_THREADS, BENCH_VENV:
# see benches/lib.sh.
#
#   bash benches/reconcile.sh                                   # 1M and 10M
#   bash benches/reconcile.sh 1000000 10000000 30000000 100000000
#   ROUNDS=1 bash benches/reconcile.sh 100000000
#   ORDERED=1 bash benches/reconcile.sh 10000000                # both sides sorted by key
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
bench_tools "$venv/bin/python -c 'import duckdb'" 'duckdb==2.0.1'
recon_bin
counts() {
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tables'][0]; print(t['matched'], t['changed'], t['missing'], t['extra'], t['columns'])" "$1/report.json"
}
for n in "${sizes[@]}"; do
  dir=bench-data/$n
  if [ ! -f "$dir/checks.toml" ]; then
    echo "generating $n rows per side into $dir ..."
    /usr/bin/time -f "  gen: %e s, peak RSS %M KiB" "$bin" -q gen --profile bench --rows "$n" --out "$dir" --force
  fi
  label="$n rows/side"
  if [ -n "${ORDERED:-}" ]; then
    ordered_copy "$dir/recon.toml"
    dir=$dir-ordered
    label="$label, both sides sorted by key"
  fi
  warm "$dir/legacy" "$dir/target"
  bench "$label" "$dir/recon.toml"
done
# The largest size under a fixed budget: 1 GiB (RSS and time against the default run) and
# 256 MiB (the same report).
base=$(counts "$dir/out")
for budget in 1GiB 256MiB; do
  read -r t m _ w _ < <(recon_run "$dir/recon.toml" "$dir/out-$budget" --memory-budget "$budget")
  same=$([ "$(counts "$dir/out-$budget")" = "$base" ] && echo "same counts as the default run" || echo "DIFFERENT counts from the default run")
  printf "%s, --memory-budget %s: %.2f s, peak RSS %d MiB, written %.1f MiB, %s\n" "$label" "$budget" "$t" "$m" "$w" "$same"
done
# SQL checks (counts, totals, orphans) on the same data: per-check wall time from the report.
[ -f "$dir/checks.toml" ] || exit 0
"$bin" -j "$threads" --no-progress -q run --config "$dir/checks.toml" --out "$dir/checks-out" >/dev/null 2>&1 || true
python3 - "$dir/checks-out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    print(f"  check {c['id']}: {c['duration_ms'] / 1000:.2f} s ({c['status']})")
PY
