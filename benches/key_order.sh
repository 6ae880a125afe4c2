#!/usr/bin/env bash
# What writing a snapshot in key order costs the servers (`recon snapshot --key-order`), against
# each server's floor (the unsorted read benches/snapshot.sh measures). A 15-column table like the
# bench's (`orders`: bigint key, ints, 4 x numeric(18,3), date, timestamp, float, 3 texts, a bool)
# is made twice in databases of its own (`recon_bench_key_order`, dropped and made again): rows
# inserted in key order (`inorder`) and in scattered order (`scattered`). Medians of 3, alternating:
#
# - PostgreSQL: the floor (psql COPY t TO STDOUT (FORMAT binary)), then the two key ranges
#   `recon -j 2 snapshot` reads, at once: unsorted, `ORDER BY` the key as the planner likes it,
#   and `ORDER BY` the key with index scans off (what `--key-order always` asks for a table whose
#   rows are not in key order).
# - MariaDB (InnoDB): `SELECT *` against `SELECT * ... ORDER BY` the key, and for a text key
#   against `ORDER BY` its bytes (`CONVERT(code USING utf8mb4) COLLATE utf8mb4_nopad_bin`).
# - With a recon binary: `recon -j 2 snapshot --key-order never|auto|always` of each PostgreSQL
#   table, with its ratio to the floor.
#
#   bash benches/key_order.sh                                   # 3M rows, servers only
#   bash benches/key_order.sh 3000000 target/release/recon      # and the export itself
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-3000000}
bin=${2:-}
db=recon_bench_key_order
mid=$((rows / 2 + 1))
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s; s=$(date +%s.%N); "$@" >/dev/null; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
pg() { psql -q -X -h 127.0.0.1 -U postgres -d "$db" "$@"; }
my() { mariadb --quick -h 127.0.0.1 -u root "$db" "$@"; }

echo "making $rows rows twice in PostgreSQL and MariaDB ($db) ..."
psql -q -X -h 127.0.0.1 -U postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
columns="order_id bigint PRIMARY KEY, tenant_id int, vehicle_id bigint, mileage int,
  parts_total numeric(18,3), labor_total numeric(18,3), vat_amount numeric(18,3),
  final_amount numeric(18,3), opened_on date, opened_at timestamp, discount_rate float8,
  status text, customer_name text, plate text, notes text, is_warranty bool"
pg -c "CREATE TABLE inorder ($columns)" -c "INSERT INTO inorder SELECT g, g % 50, g / 3,
  (g * 7919) % 400000, ((g * 31) % 5000000) / 1000.0, ((g * 17) % 2000000) / 1000.0,
  ((g * 13) % 1000000) / 1000.0, ((g * 61) % 8000000) / 1000.0, date '2020-01-01' + (g % 1500)::int,
  timestamp '2020-01-01' + g * interval '37 seconds', (g % 100) / 100.0,
  (ARRAY['open','closed','paid','void'])[1 + g % 4], 'عميل رقم ' || (g % 100000),
  'P-' || lpad((g % 999999)::text, 6, '0'),
  CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || md5(g::text) END, g % 9 = 0
  FROM generate_series(1::bigint, $rows) g" \
  -c "CREATE TABLE scattered (LIKE inorder INCLUDING ALL)" \
  -c "INSERT INTO scattered SELECT * FROM inorder ORDER BY md5(order_id::text)" \
  -c "VACUUM ANALYZE inorder" -c "VACUUM ANALYZE scattered"
mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
my -e "CREATE TABLE orders (order_id bigint PRIMARY KEY, code varchar(40) NOT NULL,
  tenant_id int, amount decimal(18,3), opened_at datetime, notes varchar(60)) ENGINE=InnoDB
  CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
  INSERT INTO orders SELECT seq, CONCAT('K-', MD5(seq)), seq % 50, (seq * 31 % 5000000) / 1000,
  '2020-01-01' + INTERVAL seq * 37 SECOND, CONCAT('note ', MD5(seq + 1)) FROM seq_1_to_$rows;
  CREATE TABLE coded (code varchar(40) PRIMARY KEY, order_id bigint, tenant_id int,
  amount decimal(18,3), opened_at datetime, notes varchar(60)) ENGINE=InnoDB
  CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
  INSERT INTO coded SELECT code, order_id, tenant_id, amount, opened_at, notes FROM orders;
  ANALYZE TABLE orders, coded;" >/dev/null

cols="order_id, tenant_id, vehicle_id, mileage, parts_total, labor_total, vat_amount,
  final_amount, opened_on, opened_at, discount_rate, status, customer_name, plate, notes, is_warranty"
# The two key ranges of `recon -j 2 snapshot`, read at once; $2 is set first in each transaction.
ranges() {
  local t=$1 set=$2 order=$3
  pg -c "BEGIN" -c "$set" -c "COPY (SELECT $cols FROM ONLY public.$t WHERE order_id < $mid$order)
    TO STDOUT (FORMAT binary)" -c "COMMIT" &
  pg -c "BEGIN" -c "$set" -c "COPY (SELECT $cols FROM ONLY public.$t WHERE order_id >= $mid$order)
    TO STDOUT (FORMAT binary)" -c "COMMIT" &
  wait
}
for t in inorder scattered; do
  floor=(); unsorted=(); planned=(); sorted=()
  for _ in 1 2 3; do
    floor+=("$(secs pg -c "COPY $t TO STDOUT (FORMAT binary)")")
    unsorted+=("$(secs ranges $t "SET LOCAL enable_indexscan = on" "")")
    planned+=("$(secs ranges $t "SET LOCAL enable_indexscan = on" " ORDER BY order_id")")
    sorted+=("$(secs ranges $t "SET LOCAL enable_indexscan = off" " ORDER BY order_id")")
  done
  f=$(printf '%s\n' "${floor[@]}" | median)
  printf 'postgresql %s, %d rows: floor %s s; 2 ranges unsorted %s s, ORDER BY (planner) %s s, ORDER BY (index scans off) %s s\n' \
    "$t" "$rows" "$f" "$(printf '%s\n' "${unsorted[@]}" | median)" \
    "$(printf '%s\n' "${planned[@]}" | median)" "$(printf '%s\n' "${sorted[@]}" | median)"
  if [ -n "$bin" ]; then
    for mode in never auto always; do
      runs=()
      for _ in 1 2 3; do
        out=$(mktemp -d)
        line=$("$bin" -j 2 --no-progress -q snapshot --from "postgres://postgres@127.0.0.1:5432/$db" \
          --table "$t" --key-order "$mode" --out "$out/s" --stats 2>&1 >/dev/null | grep '^stats:')
        runs+=("$(echo "$line" | sed -E 's/.* in ([0-9.]+) s.*/\1/')")
        ordered=$(grep -c '"key_order"' "$out/s/_recon_snapshot.json" || true)
        rm -rf "$out"
      done
      r=$(printf '%s\n' "${runs[@]}" | median)
      if [ "$ordered" -gt 0 ]; then how="written in key order"; else how="not in key order"; fi
      awk -v m="$mode" -v r="$r" -v f="$f" -v how="$how" 'BEGIN {
        printf "  recon -j 2 snapshot --key-order %s: %.2f s, %.2fx the floor (%s)\n", m, r, r / f, how }'
    done
  fi
done
for spec in "orders order_id" "coded code" "coded CONVERT(code USING utf8mb4) COLLATE utf8mb4_nopad_bin"; do
  t=${spec%% *}; key=${spec#* }
  plain=(); ordered=()
  for _ in 1 2 3; do
    plain+=("$(secs my -e "SELECT * FROM $t")")
    ordered+=("$(secs my -e "SELECT * FROM $t ORDER BY $key")")
  done
  printf 'mariadb %s, %d rows: SELECT * %s s, ORDER BY %s %s s\n' "$t" "$rows" \
    "$(printf '%s\n' "${plain[@]}" | median)" "$key" "$(printf '%s\n' "${ordered[@]}" | median)"
done
psql -q -X -h 127.0.0.1 -U postgres -c "DROP DATABASE $db"
mariadb -h 127.0.0.1 -u root -e "DROP DATABASE $db"
