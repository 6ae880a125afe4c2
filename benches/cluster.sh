#!/usr/bin/env bash
# The reconciliation on a Ballista cluster next to the local engine, in one run: one scheduler
# and two executors of the recon binary on this machine (loopback ports, one task slot each
# unless EXECUTOR_TASKS says otherwise), the bench data set of `recon gen --profile bench`
# (10M rows a side by default). ROUNDS times (3), alternating: `recon run --local` and `recon
# run --cluster`. Prints, per engine, the median wall time and rows/s and the client's peak RSS;
# for the cluster also each role's peak RSS (VmHWM), the bytes its executors wrote per run (their
# write calls, /proc/PID/io wchar: the shuffle files, which Ballista removes once a job ends), and the last job's stages as the scheduler's REST API reports them
# (rows in and out, compute time, task times). Both engines' reports must give the same counts.
#
# The binary must be built with the `cluster` feature: RECON_BIN, or else this script runs
# `cargo build --release --features cluster` (release builds take long on two cores).
#
# ATTRIBUTION=store|reread|auto is passed to both engines as --attribution (auto, the default,
# is store here: the runs keep no history).
#
#   bash benches/cluster.sh                 # 10M rows a side
#   ROUNDS=1 bash benches/cluster.sh 1000000
#   ATTRIBUTION=reread bash benches/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
n=${1:-10000000}
tasks=${EXECUTOR_TASKS:-1}
if [ -n "${RECON_BIN:-}" ]; then
  bin=$RECON_BIN
else
  cargo build --release --quiet --features cluster
  bin=target/release/recon
fi
dir=bench-data/$n
if [ ! -f "$dir/recon.toml" ]; then
  echo "generating $n rows per side into $dir ..."
  "$bin" -q gen --profile bench --rows "$n" --out "$dir" --force
fi
config=$dir/recon.toml
warm "$dir/legacy" "$dir/target"

# The cluster: its processes are stopped when the script ends, however it ends.
work=$(mktemp -d)
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap stop EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() { # ready LOG TEXT: waits up to a minute for TEXT in LOG
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}
sched=127.0.0.1:$(free_port)
"$bin" cluster scheduler --bind "$sched" >"$work/scheduler.log" 2>&1 &
pids+=($!)
ready "$work/scheduler.log" "scheduler listening"
for i in 1 2; do
  mkdir -p "$work/executor-$i"
  "$bin" cluster executor --scheduler "$sched" --bind "127.0.0.1:$(free_port)" \
    --flight-port "$(free_port)" --concurrent-tasks "$tasks" --work-dir "$work/executor-$i" \
    >"$work/executor-$i.log" 2>&1 &
  pids+=($!)
  ready "$work/executor-$i.log" "joined scheduler"
done
shuffled() { cat "/proc/${pids[1]}/io" "/proc/${pids[2]}/io" | awk '/^wchar/ {s += $2} END {printf "%.1f", s / 1048576}'; }

extra=()
if [ -n "${ATTRIBUTION:-}" ]; then extra=(--attribution "$ATTRIBUTION"); fi
locals=() local_rss=() remotes=() remote_rss=() shuffles=()
for _ in $(seq "$rounds"); do
  read -r t m _ _ _ < <(recon_run "$config" "$dir/out-local" --local ${extra[@]+"${extra[@]}"})
  locals+=("$t"); local_rss+=("$m")
  before=$(shuffled)
  read -r t m _ _ _ < <(recon_run "$config" "$dir/out-cluster" --cluster "df://$sched" ${extra[@]+"${extra[@]}"})
  remotes+=("$t"); remote_rss+=("$m")
  shuffles+=("$(awk -v a="$before" -v b="$(shuffled)" 'BEGIN {printf "%.1f", b - a}')")
done
rows=$((2 * n))
lt=$(printf '%s\n' "${locals[@]}" | median)
rt=$(printf '%s\n' "${remotes[@]}" | median)
echo "$n rows/side, both engines on this machine ($(nproc) cores), median of $rounds${extra[*]:+, ${extra[*]}}"
awk -v rows="$rows" -v t="$lt" -v m="$(printf '%s\n' "${local_rss[@]}" | maximum)" \
  'BEGIN {printf "  local   %7.2f s (%5.1f M rows/s), peak RSS %5d MiB\n", t, rows / t / 1e6, m}'
awk -v rows="$rows" -v t="$rt" -v m="$(printf '%s\n' "${remote_rss[@]}" | maximum)" -v l="$lt" \
    -v s="$(printf '%s\n' "${shuffles[@]}" | median)" \
  'BEGIN {printf "  cluster %7.2f s (%5.1f M rows/s), client peak RSS %5d MiB, shuffle written %.1f MiB a run: %.2fx the local time\n", t, rows / t / 1e6, m, s, t / l}'
for i in "${!pids[@]}"; do
  role=$([ "$i" = 0 ] && echo scheduler || echo "executor-$i")
  echo "  $role peak RSS $(awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/${pids[$i]}/status") MiB"
done
python3 - "$sched" "$dir/out-local/report.json" "$dir/out-cluster/report.json" <<'PY'
import json, sys, urllib.request
sched, local, remote = sys.argv[1:]
def counts(path):
    return [(t["name"], t["matched"], t["changed"], t["missing"], t["extra"], t["columns"])
            for t in json.load(open(path))["tables"]]
print("  same counts on both engines" if counts(local) == counts(remote)
      else "  DIFFERENT counts: %s vs %s" % (counts(local), counts(remote)))
get = lambda path: json.load(urllib.request.urlopen(f"http://{sched}{path}"))
jobs = [j for j in get("/api/jobs") if j["job_name"].startswith("recon ")]
last = max(jobs, key=lambda j: j["start_time"])
print(f"  last job {last['job_name']!r}: {last['job_status']}")
for s in get(f"/api/job/{last['job_id']}/stages")["stages"]:
    p = s.get("task_duration_percentiles") or {}
    spread = (f", task ms min {p['min']} median {p['median']} max {p['max']}" if p else "")
    print(f"    stage {s['stage_id']}: {s['stage_status']}, {len(s['tasks'])} tasks, "
          f"{s['input_rows']} rows in, {s['output_rows']} out, "
          f"compute {s.get('elapsed_compute')}{spread}")
PY
