#!/usr/bin/env bash
# Real data: TPC-H `lineitem` (SF10 by default: 60M rows a side, composite key, 16 columns, long
# `l_comment` strings), recon against DuckDB's best keyed diff, alternating, medians of 3.
#
# The legacy side is tpchgen-cli's output as it is. The target is what another engine made of
# it: DuckDB re-types the decimals to another width (DECIMAL(15,2) -> DECIMAL(18,4)), shuffles the rows, splits them into 8 files, edits about 40 prices and drops
# about 100 rows (42 and 95 at SF10). Tools come from PyPI into target/bench-venv (tpchgen-cli, duckdb), made on first use.
#
#   bash benches/tpch.sh            # SF10
#   SF=1 bash benches/tpch.sh       # SF1, 6M rows a side
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${SF:-10}
rounds=${ROUNDS:-3}
threads=${RECON_THREADS:-$(nproc)}
venv=target/bench-venv
[ -x "$venv/bin/tpchgen-cli" ] && "$venv/bin/python" -c 'import duckdb' 2>/dev/null || {
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check 'duckdb==2.0.1' 'tpchgen-cli==4.0.0'
}
dir=bench-data/tpch-sf$sf
if [ ! -f "$dir/recon.toml" ]; then
  echo "generating TPC-H SF$sf lineitem into $dir ..."
  rm -rf "$dir" && mkdir -p "$dir/legacy" "$dir/target/lineitem"
  "$venv/bin/tpchgen-cli" parquet -s "$sf" --tables lineitem --output-dir "$dir/legacy"
  "$venv/bin/python" - "$dir" <<'PY'
import duckdb, sys
d = sys.argv[1]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
con.execute(f"""
COPY (
  SELECT l_orderkey, l_partkey, l_suppkey, l_linenumber,
         CAST(l_quantity AS DECIMAL(18,4)) AS l_quantity,
         CAST(CASE WHEN hash(l_orderkey, l_linenumber) % 1500000 = 7 THEN l_extendedprice + 0.01
                   ELSE l_extendedprice END AS DECIMAL(18,4)) AS l_extendedprice,
         CAST(l_discount AS DECIMAL(18,4)) AS l_discount, CAST(l_tax AS DECIMAL(18,4)) AS l_tax,
         l_returnflag, l_linestatus,
         l_shipdate, l_commitdate, l_receiptdate,
         l_shipinstruct, l_shipmode, l_comment,
         (hash(l_orderkey, l_linenumber) % 8) AS part
  FROM read_parquet('{d}/legacy/lineitem.parquet')
  WHERE hash(l_orderkey * 7, l_linenumber) % 588000 <> 3
  ORDER BY hash(l_orderkey, l_linenumber, 42)
) TO '{d}/target/lineitem' (FORMAT parquet, PARTITION_BY (part), COMPRESSION zstd, WRITE_PARTITION_COLUMNS false)
""")
legacy = con.execute(f"SELECT count(*) FROM read_parquet('{d}/legacy/lineitem.parquet')").fetchone()[0]
target = con.execute(f"SELECT count(*) FROM read_parquet('{d}/target/lineitem/*/*.parquet')").fetchone()[0]
print(f"legacy {legacy} rows, target {target} rows ({legacy - target} dropped)")
PY
  # Hive folders `part=N/` hold the target's files: flatten them into one table folder.
  i=0
  for f in "$dir"/target/lineitem/part=*/*.parquet; do
    mv "$f" "$dir/target/lineitem/lineitem-$i.parquet"; i=$((i + 1))
  done
  rmdir "$dir"/target/lineitem/part=*
  cat > "$dir/recon.toml" <<'TOML'
[legacy]
root = "legacy"

[target]
root = "target"

[[tables]]
name = "lineitem"
key = ["l_orderkey", "l_linenumber"]
TOML
fi
[ -z "${GEN_ONLY:-}" ] || exit 0
cargo build --release --quiet
bin=target/release/recon
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floors=(); runs=(); rss=(); ducks=(); duck_rss=()
for _ in $(seq "$rounds"); do
  floors+=("$("$bin" -j "$threads" decode-floor --config "$dir/recon.toml" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
  line=$("$bin" -j "$threads" --no-progress -q run --config "$dir/recon.toml" --out "$dir/out" --stats 2>&1 >/dev/null | grep '^stats:' || true)
  runs+=("$(echo "$line" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
  rss+=("$(echo "$line" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')")
  duck=$("$venv/bin/python" benches/duckdb_compare.py "$dir/legacy/lineitem.parquet" "$dir/target/lineitem/*.parquet" l_orderkey,l_linenumber | grep "^duckdb")
  ducks+=("$(echo "$duck" | sed -E 's/.*keyed diff ([0-9.]+) s.*/\1/')")
  duck_rss+=("$(echo "$duck" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')")
done
rows=$("$venv/bin/python" -c "import json; r = json.load(open('$dir/out/report.json')); t = r['tables'][0]; print(t['legacy_rows'] + t['target_rows'])")
awk -v rows="$rows" -v f="$(printf '%s\n' "${floors[@]}" | median)" \
    -v r="$(printf '%s\n' "${runs[@]}" | median)" -v m="$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)" \
    -v d="$(printf '%s\n' "${ducks[@]}" | median)" -v dm="$(printf '%s\n' "${duck_rss[@]}" | sort -n | tail -1)" \
    -v sf="$sf" 'BEGIN {
  printf "TPC-H SF%s lineitem, %d rows in all: recon %.2f s (%.1f M rows/s, peak RSS %d MiB, decode floor %.2f s), duckdb %.2f s (%.1f M rows/s, peak RSS %d MiB): recon %.2fx faster\n",
    sf, rows, r, rows / r / 1e6, m, f, d, rows / d / 1e6, dm, d / r }'
python3 - "$dir/out/report.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tables"][0]
print(f"  recon: matched {t['matched']}, changed {t['changed']}, missing {t['missing']}, extra {t['extra']}")
PY
