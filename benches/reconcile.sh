#!/usr/bin/env bash
# End-to-end benchmark against DuckDB. For each size (rows per side), generate the bench data set
# once with `recon gen --profile bench` (15 mixed columns, ~0.1 % changed, 0.05 % missing and
# extra, target shuffled, zstd row groups of 1M rows), then alternate, ROUNDS times: recon's
# decode floor, `recon run` with its defaults, and DuckDB's best keyed diff
# (benches/duckdb_compare.py). Prints medians of time and rows/s and the peak RSS of each.
#
# For the largest size it then runs recon with `--memory-budget 1GiB` and `256MiB` and checks
# that both reports give the same counts as the default run. Then the wall time of the count,
# total and orphan checks of checks.toml.
#
# DuckDB (duckdb==2.0.1) comes from PyPI into target/bench-venv, made on first use.
#
#   bash benches/reconcile.sh                                   # 1M and 10M
#   bash benches/reconcile.sh 1000000 10000000 30000000 100000000
#   ROUNDS=1 bash benches/reconcile.sh 100000000
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
threads=${RECON_THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
venv=target/bench-venv
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || {
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check 'duckdb==2.0.1'
}
cargo build --release --quiet
bin=target/release/recon
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
stat() { sed -E "s/.*$1.*/\\1/"; }
# One recon run: prints "seconds rss_mib budget_mib".
recon_run() {
  local line
  line=$("$bin" -j "$threads" --no-progress -q run --config "$1/recon.toml" --out "$2" --stats "${@:3}" 2>&1 >/dev/null | grep '^stats:' || true)
  echo "$(echo "$line" | stat ' in ([0-9.]+) s') $(echo "$line" | stat 'peak RSS ([0-9]+) MiB') $(echo "$line" | stat 'memory budget ([0-9]+) MiB')"
}
counts() {
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tables'][0]; print(t['matched'], t['changed'], t['missing'], t['extra'], t['columns'])" "$1/report.json"
}
for n in "${sizes[@]}"; do
  dir=bench-data/$n
  if [ ! -f "$dir/checks.toml" ]; then
    echo "generating $n rows per side into $dir ..."
    /usr/bin/time -f "  gen: %e s, peak RSS %M KiB" "$bin" -q gen --profile bench --rows "$n" --out "$dir" --force
  fi
  floors=(); runs=(); rss=(); ducks=(); duck_rss=()
  for _ in $(seq "$rounds"); do
    floors+=("$("$bin" -j "$threads" decode-floor --config "$dir/recon.toml" | stat ' in ([0-9.]+) s')")
    read -r t m budget < <(recon_run "$dir" "$dir/out")
    runs+=("$t"); rss+=("$m")
    duck=$("$venv/bin/python" benches/duckdb_compare.py "$dir" | grep "^duckdb")
    ducks+=("$(echo "$duck" | stat 'keyed diff ([0-9.]+) s')")
    duck_rss+=("$(echo "$duck" | stat 'peak RSS ([0-9]+) MiB')")
  done
  floor=$(printf '%s\n' "${floors[@]}" | median)
  run=$(printf '%s\n' "${runs[@]}" | median)
  peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  duck=$(printf '%s\n' "${ducks[@]}" | median)
  duck_peak=$(printf '%s\n' "${duck_rss[@]}" | sort -n | tail -1)
  awk -v n="$n" -v rows="$((2 * n))" -v f="$floor" -v r="$run" -v m="$peak" -v d="$duck" -v dm="$duck_peak" -v t="$threads" -v b="$budget" -v k="$rounds" 'BEGIN {
    printf "%d rows/side, %d threads, median of %d: recon %.2f s (%.1f M rows/s, peak RSS %d MiB, budget %d MiB), decode floor %.2f s (%.2fx), duckdb %.2f s (%.1f M rows/s, peak RSS %d MiB): recon %.2fx faster\n",
      n, t, k, r, rows / r / 1e6, m, b, f, r / f, d, rows / d / 1e6, dm, d / r }'
done
# The largest size under a fixed budget: 1 GiB (RSS and time against the default run) and
# 256 MiB (the same report).
n=${sizes[-1]}
dir=bench-data/$n
base=$(counts "$dir/out")
for budget in 1GiB 256MiB; do
  read -r t m _ < <(recon_run "$dir" "$dir/out-$budget" --memory-budget "$budget")
  same=$([ "$(counts "$dir/out-$budget")" = "$base" ] && echo "same counts as the default run" || echo "DIFFERENT counts from the default run")
  printf "%d rows/side, --memory-budget %s: %.2f s, peak RSS %d MiB, %s\n" "$n" "$budget" "$t" "$m" "$same"
done
# SQL checks (counts, totals, orphans) on the same data: per-check wall time from the report.
"$bin" -j "$threads" --no-progress -q run --config "$dir/checks.toml" --out "$dir/checks-out" >/dev/null 2>&1 || true
python3 - "$dir/checks-out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    print(f"  check {c['id']}: {c['duration_ms'] / 1000:.2f} s ({c['status']})")
PY
