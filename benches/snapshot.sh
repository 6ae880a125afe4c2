#!/usr/bin/env bash
# Export benchmark (`recon snapshot`, not a timed test): the 15-column service_orders table of
# `recon gen --profile bench` loaded into the local PostgreSQL and MariaDB (databases of its own,
# `recon_bench_snapshot`, dropped and made again), then per size and server: the server's own
# floor measured in the same run (PostgreSQL: psql COPY ... TO STDOUT (FORMAT binary) > /dev/null;
# MariaDB: mariadb --quick -e "SELECT * ..." > /dev/null), and `recon -j 2 snapshot` with its
# rows/s, MB/s of Parquet and peak RSS. Medians of 3 runs.
#
#   bash benches/snapshot.sh                  # 1M and 10M
#   bash benches/snapshot.sh 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
cargo build --release --quiet
bin=target/release/recon
db=recon_bench_snapshot
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s; s=$(date +%s.%N); "$@" >/dev/null; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
for n in "${sizes[@]}"; do
  dir=bench-data/$n
  if [ ! -f "$dir/recon.toml" ]; then
    echo "generating $n rows into $dir ..."
    "$bin" -q gen --profile bench --rows "$n" --out "$dir" --force
  fi
  # Only the legacy service_orders table is loaded.
  load=$(mktemp -d); mkdir -p "$load/src"; cp -r "$dir/legacy/service_orders"* "$load/src/"
  for url in "postgres://postgres@127.0.0.1:5432/$db" "mysql://root@127.0.0.1:3306/$db"; do
    echo "loading $n rows into $url ..."
    "$bin" -q load-db --from "$load/src" --into "$url" >/dev/null
  done
  # A primary key, as a real table has (it lets -j 2 export two key ranges), and statistics.
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "ALTER TABLE service_orders ADD PRIMARY KEY (order_id)" -c "ANALYZE" >/dev/null
  mariadb -h 127.0.0.1 -u root "$db" -e "ALTER TABLE service_orders ADD PRIMARY KEY (order_id); ANALYZE TABLE service_orders" >/dev/null
  for server in postgresql mariadb; do
    floors=(); runs=(); rss=(); mbs=()
    for _ in 1 2 3; do
      if [ $server = postgresql ]; then
        url="postgres://postgres@127.0.0.1:5432/$db"
        floors+=("$(secs psql -h 127.0.0.1 -U postgres -d "$db" -c "COPY service_orders TO STDOUT (FORMAT binary)")")
      else
        url="mysql://root@127.0.0.1:3306/$db"
        floors+=("$(secs mariadb --quick -h 127.0.0.1 -u root "$db" -e "SELECT * FROM service_orders")")
      fi
      line=$("$bin" -j 2 --no-progress -q snapshot --from "$url" --out "$load/out" --force --stats 2>&1 >/dev/null | grep '^stats:')
      runs+=("$(echo "$line" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
      mbs+=("$(echo "$line" | sed -E 's/.*, ([0-9.]+) MB\/s.*/\1/')")
      rss+=("$(echo "$line" | sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/')")
    done
    floor=$(printf '%s\n' "${floors[@]}" | median)
    run=$(printf '%s\n' "${runs[@]}" | median)
    mb=$(printf '%s\n' "${mbs[@]}" | median)
    peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
    awk -v n="$n" -v s="$server" -v f="$floor" -v r="$run" -v mb="$mb" -v m="$peak" 'BEGIN {
      printf "%s, %d rows: recon -j 2 snapshot %.2f s (%.0f rows/s, %s MB/s Parquet), server floor %.2f s, ratio %.2fx, peak RSS %d MiB\n",
        s, n, r, n / r, mb, f, r / f, m }'
  done
  rm -rf "$load"
done
