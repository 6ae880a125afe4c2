#!/usr/bin/env bash
# Two builds of recon on the same bench data, alternating: is a change no slower? For each of
# ROUNDS rounds, `recon run` of build A then of build B on bench-data/N (made with
# `recon gen --profile bench` by the first binary if missing); prints each run's wall time and
# peak RSS (`--stats`), then the medians, and checks that both builds report the same counts.
#
#   bash benches/ab.sh OLD_BINARY NEW_BINARY [ROWS]      # ROWS default 10000000
#   ROUNDS=5 bash benches/ab.sh /tmp/recon-before target/release/recon
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 n=${3:-10000000}
rounds=${ROUNDS:-3}
threads=${RECON_THREADS:-$(nproc)}
dir=bench-data/$n
[ -f "$dir/recon.toml" ] || "$a" -q gen --profile bench --rows "$n" --out "$dir" --force
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
one() {
  "$1" -j "$threads" --no-progress -q run --config "$dir/recon.toml" --out "$2" --stats 2>&1 >/dev/null |
    sed -nE 's/^stats:.* in ([0-9.]+) s.*peak RSS ([0-9]+) MiB.*/\1 \2/p'
}
counts() {
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tables'][0]; print(t['matched'], t['changed'], t['missing'], t['extra'], t['columns'])" "$1/report.json"
}
ta=() tb=() ra=() rb=()
for r in $(seq "$rounds"); do
  read -r t m < <(one "$a" "$dir/out-a"); ta+=("$t"); ra+=("$m"); echo "round $r  A: $t s, $m MiB"
  read -r t m < <(one "$b" "$dir/out-b"); tb+=("$t"); rb+=("$m"); echo "round $r  B: $t s, $m MiB"
done
echo "median  A: $(printf '%s\n' "${ta[@]}" | median) s, $(printf '%s\n' "${ra[@]}" | median) MiB"
echo "median  B: $(printf '%s\n' "${tb[@]}" | median) s, $(printf '%s\n' "${rb[@]}" | median) MiB"
if [ "$(counts "$dir/out-a")" = "$(counts "$dir/out-b")" ]; then
  echo "same counts: $(counts "$dir/out-a" | cut -c1-80)"
else
  echo "COUNTS DIFFER"; counts "$dir/out-a"; counts "$dir/out-b"; exit 1
fi
