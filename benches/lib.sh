# What the bench scripts share (sourced from the repository root): the Python tools, the recon
# binary, one measured run of recon and of DuckDB, medians and the summary lines.
#
# RECON_BIN: the recon binary to bench (default: target/release/recon, built by
# `cargo build --release`). RECON_THREADS: recon's -j (default: every core). BENCH_VENV: the
# Python venv of the bench tools (default target/bench-venv, made on first use).

venv=${BENCH_VENV:-target/bench-venv}
threads=${RECON_THREADS:-$(nproc)}
rounds=${ROUNDS:-3}

# bench_tools CHECK PACKAGE...: makes the venv and installs the packages unless the shell
# command CHECK (run with $venv set) succeeds.
bench_tools() {
  local check=$1
  shift
  bash -c "$check" 2>/dev/null || {
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
  }
}

# recon_bin: sets $bin, building the release binary unless RECON_BIN names one.
recon_bin() {
  if [ -n "${RECON_BIN:-}" ]; then
    bin=$RECON_BIN
  else
    cargo build --release --quiet
    bin=target/release/recon
  fi
  [ -x "$bin" ] || { echo "no recon binary at $bin" >&2; exit 1; }
}

# ordered_copy CONFIG: the key-ordered variant of CONFIG's folder, FOLDER-ordered (both sides
# sorted by key, benches/key_ordered.py), made unless it holds the config already.
ordered_copy() {
  local dst
  dst=$(dirname "$1")-ordered
  [ ! -f "$dst/$(basename "$1")" ] || return 0
  echo "rewriting $1 sorted by key into $dst ..."
  "$venv/bin/python" benches/key_ordered.py "$1" "$dst"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maximum() { sort -n | tail -1; }
stat() { sed -E "s/.*$1.*/\\1/"; }

# warm PATH...: reads every Parquet file under the paths once, so that no timed run pays for
# the first read of fresh files.
warm() { find "$@" -name '*.parquet' -exec cat {} + >/dev/null; }

# recon_run CONFIG OUT [ARGS...]: one `recon run`; prints "seconds rss_mib budget_mib
# written_mib reports_mib". Written: the bytes the process wrote to disk (its reports and any
# spill), from the kernel's count of blocks written (`/usr/bin/time` %O, 512-byte units);
# reports: the size of the report folder OUT.
recon_run() {
  local io line
  io=$(mktemp)
  line=$(/usr/bin/time -o "$io" -f '%O' "$bin" -j "$threads" --no-progress -q run --config "$1" --out "$2" --stats "${@:3}" 2>&1 >/dev/null | grep '^stats:' || true)
  [ -n "$line" ] || { echo "recon run --config $1 printed no stats" >&2; rm -f "$io"; exit 1; }
  echo "$(stat ' in ([0-9.]+) s' <<<"$line") $(stat 'peak RSS ([0-9]+) MiB' <<<"$line") $(stat 'memory budget ([0-9]+) MiB' <<<"$line") $(tail -1 "$io" | awk '{printf "%.1f", $1 * 512 / 1048576}') $(du -sk "$2" | awk '{printf "%.1f", $1 / 1024}')"
  rm -f "$io"
}

# floor CONFIG: recon's decode floor in seconds.
floor() { "$bin" -j "$threads" decode-floor --config "$1" | stat ' in ([0-9.]+) s'; }

# duck FILE ARGS...: one benches/duckdb_compare.py run, its output kept in FILE; prints
# "seconds rss_mib written_mib".
duck() {
  local out=$1
  shift
  "$venv/bin/python" benches/duckdb_compare.py "$@" >"$out"
  head -1 "$out" | sed -E 's/.* in ([0-9.]+) s, peak RSS ([0-9]+) MiB, written ([0-9.]+) MiB.*/\1 \2 \3/'
}

# summary ROWS RECON_S RECON_RSS RECON_WRITTEN FLOOR_S COUNTS_S COUNTS_RSS COUNTS_WRITTEN
#         FULL_S FULL_RSS FULL_WRITTEN BUDGET REPORTS: the three tools' lines, rows being both
#         sides' rows.
summary() {
  awk -v rows="$1" -v r="$2" -v rm="$3" -v rw="$4" -v f="$5" -v c="$6" -v cm="$7" -v cw="$8" \
      -v d="$9" -v dm="${10}" -v dw="${11}" -v b="${12}" -v rr="${13}" '
    # How recon compares with a time t: "recon 1.42x faster" or "recon 1.20x slower".
    function versus(t) { return t >= r ? sprintf("recon %.2fx faster", t / r) : sprintf("recon %.2fx slower", r / t) }
    BEGIN {
      printf "  recon              %7.2f s (%5.1f M rows/s), peak RSS %5d MiB, written %7.1f MiB (reports %.1f MiB), decode floor %.2f s (run %.2fx the floor), memory budget %d MiB\n",
        r, rows / r / 1e6, rm, rw, rr, f, r / f, b
      printf "  duckdb counts only %7.2f s (%5.1f M rows/s), peak RSS %5d MiB, written %7.1f MiB: %s\n",
        c, rows / c / 1e6, cm, cw, versus(c)
      printf "  duckdb full job    %7.2f s (%5.1f M rows/s), peak RSS %5d MiB, written %7.1f MiB: %s\n",
        d, rows / d / 1e6, dm, dw, versus(d)
    }'
}

# bench LABEL CONFIG: ROUNDS rounds, alternating recon's decode floor, `recon
# run`, DuckDB counts only and DuckDB's full job over CONFIG; then the summary (medians of
# time and bytes written, the highest peak RSS), recon's counts per table and whether DuckDB's
# full job found the same counts. Reports go to the config's folder, out/.
bench() {
  local label=$1 config=$2 root out rows
  root=$(dirname "$config")
  out=$root/out
  local floors=() runs=() rss=() written=() reports=() c=() cm=() cw=() d=() dm=() dw=() t m w r budget
  for _ in $(seq "$rounds"); do
    floors+=("$(floor "$config")")
    read -r t m budget w r < <(recon_run "$config" "$out")
    runs+=("$t"); rss+=("$m"); written+=("$w"); reports+=("$r")
    read -r t m w < <(duck "$root/duckdb-counts.txt" --counts-only "$config")
    c+=("$t"); cm+=("$m"); cw+=("$w")
    read -r t m w < <(duck "$root/duckdb-full.txt" --check "$out/report.json" "$config")
    d+=("$t"); dm+=("$m"); dw+=("$w")
  done
  rows=$(python3 -c "import json, sys; print(sum(t['legacy_rows'] + t['target_rows'] for t in json.load(open(sys.argv[1]))['tables']))" "$out/report.json")
  echo "$label: $rows rows in all, $threads threads, median of $rounds"
  summary "$rows" "$(printf '%s\n' "${runs[@]}" | median)" "$(printf '%s\n' "${rss[@]}" | maximum)" \
    "$(printf '%s\n' "${written[@]}" | median)" "$(printf '%s\n' "${floors[@]}" | median)" \
    "$(printf '%s\n' "${c[@]}" | median)" "$(printf '%s\n' "${cm[@]}" | maximum)" "$(printf '%s\n' "${cw[@]}" | median)" \
    "$(printf '%s\n' "${d[@]}" | median)" "$(printf '%s\n' "${dm[@]}" | maximum)" "$(printf '%s\n' "${dw[@]}" | median)" "$budget" \
    "$(printf '%s\n' "${reports[@]}" | median)"
  python3 - "$out/report.json" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["tables"]:
    print(f"  recon {t['name']}: matched {t['matched']}, changed {t['changed']}, missing {t['missing']}, extra {t['extra']}")
PY
  grep -E "recon's report" "$root/duckdb-full.txt" | sed 's/^  /  duckdb full job: /'
}
