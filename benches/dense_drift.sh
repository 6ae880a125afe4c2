#!/usr/bin/env bash
# Memory under dense drift: the bench table of N rows (seed 42) against the target of another
# seed (7), so that nearly every row is changed. Runs `recon run` with --diff-out and --history
# on two nights (the second compares every differing key with the first's), with the default
# budget and with --memory-budget 256MiB, and prints time and peak RSS of each, with the counts.
# Peak RSS must follow the budget, not the number of differing rows.
#
#   bash benches/dense_drift.sh             # 10M rows
#   bash benches/dense_drift.sh 30000000
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
cargo build --release --quiet
bin=target/release/recon
for seed in 42 7; do
  dir=bench-data/$n$([ "$seed" = 42 ] || echo "-s$seed")
  [ -f "$dir/recon.toml" ] || "$bin" -q gen --profile bench --rows "$n" --seed "$seed" --out "$dir" --force
done
work=bench-data/dense-$n
rm -rf "$work"
mkdir -p "$work"
cat > "$work/recon.toml" <<TOML
[legacy]
root = "$PWD/bench-data/$n/legacy"

[target]
root = "$PWD/bench-data/$n-s7/target"

[[tables]]
name = "service_orders"
key = ["order_id"]
TOML
for budget in default 256MiB; do
  extra=()
  [ "$budget" = default ] || extra=(--memory-budget "$budget")
  for night in 1 2; do
    line=$("$bin" --no-progress -q run --config "$work/recon.toml" --out "$work/out-$budget" \
      --diff-out "$work/diff-$budget" --history "$work/history-$budget" --stats "${extra[@]}" 2>&1 >/dev/null | grep '^stats:' || true)
    counts=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tables'][0]; h=t.get('history') or {}; print(f\"changed {t['changed']}, missing {t['missing']}, extra {t['extra']}, new keys {h.get('new_keys')}, resolved {h.get('resolved_keys')}\")" "$work/out-$budget/report.json")
    echo "$n rows/side, budget $budget, night $night: ${line#stats: } | $counts"
  done
done
