#!/usr/bin/env bash
# End-to-end benchmark: for each size (rows per side), generate the bench data set once with
# `recon gen --profile bench` (15 mixed columns, ~0.1 % changed, 0.05 % missing and extra,
# target shuffled, zstd row groups of 1M rows), then print the decode floor and the full
# reconcile (rows/s, wall time, peak RSS), medians of 3 runs each, then the wall time of the
# count, total and orphan checks of checks.toml.
#
#   bash benches/reconcile.sh                 # 1M and 10M
#   bash benches/reconcile.sh 1000000 10000000 30000000
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
threads=${RECON_THREADS:-$(nproc)}
cargo build --release --quiet
bin=target/release/recon
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for n in "${sizes[@]}"; do
  dir=bench-data/$n
  if [ ! -f "$dir/checks.toml" ]; then
    echo "generating $n rows per side into $dir ..."
    "$bin" -q gen --profile bench --rows "$n" --out "$dir" --force
  fi
  floors=(); runs=(); rss=()
  for _ in 1 2 3; do
    floors+=("$("$bin" -j "$threads" decode-floor --config "$dir/recon.toml" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
    line=$("$bin" -j "$threads" --no-progress -q run --config "$dir/recon.toml" --out "$dir/out" --stats 2>&1 >/dev/null | grep '^stats:' || true)
    runs+=("$(echo "$line" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
    rss+=("$(echo "$line" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')")
  done
  floor=$(printf '%s\n' "${floors[@]}" | median)
  run=$(printf '%s\n' "${runs[@]}" | median)
  peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  rows=$((2 * n))
  awk -v n="$n" -v rows="$rows" -v f="$floor" -v r="$run" -v m="$peak" -v t="$threads" 'BEGIN {
    printf "%d rows/side, %d threads: reconcile %.2f s (%.1f M rows/s), decode floor %.2f s, ratio %.2fx, peak RSS %d MiB\n",
      n, t, r, rows / r / 1e6, f, r / f, m }'
  # SQL checks (counts, totals, orphans) on the same data: per-check wall time from the report.
  "$bin" -j "$threads" --no-progress -q run --config "$dir/checks.toml" --out "$dir/checks-out" >/dev/null 2>&1 || true
  python3 - "$dir/checks-out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    print(f"  check {c['id']}: {c['duration_ms'] / 1000:.2f} s ({c['status']})")
PY
done
