#!/usr/bin/env bash
# Instructions per message of stan-server (valgrind --tool=callgrind: counts,
# not seconds, so repeatable whatever else the machine does) under one
# stan-bench run. The nats-server runs outside valgrind (stan-server on -ns).
#
#   bash bench/server-callgrind.sh [subscribers=1] [store=MEMORY] [output file]
#
# Environment: N (messages, 50000), STAN_SERVER_BIN, NATS_SERVER_BIN,
# STAN_BENCH_BIN as in bench/server-cpu.sh. Prints the total and the top
# functions; `callgrind_annotate <output file>` shows more. The total includes
# start-up and shutdown, and memcpy counts each `rep movsb` step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NS=${1:-1} STORE=${2:-MEMORY} OUT=${3:-$(mktemp --suffix=.callgrind)}
N=${N:-50000}
SRV=$(realpath "${STAN_SERVER_BIN:-target/release/stan-server}")
BENCH=${STAN_BENCH_BIN:-.tools/bin/stan-bench}
NATS=${NATS_SERVER_BIN:-$PWD/.tools/venv/bin/nats-server}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT=$(free_port)
DIR=$(mktemp -d)
GOGC=400 "$NATS" -a 127.0.0.1 -p "$PORT" >"$DIR/nats.log" 2>&1 &
NATS_PID=$!
SRV_PID=
trap 'kill $SRV_PID $NATS_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 0.5
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$SRV" -ns "nats://127.0.0.1:$PORT" -st "$STORE" --dir "$DIR/store" >"$DIR/log" 2>&1 &
SRV_PID=$!
for _ in $(seq 1 300); do grep -q "Streaming Server is ready" "$DIR/log" && break; sleep 0.1; done
"$BENCH" -s "nats://127.0.0.1:$PORT" -np 1 -ns "$NS" -n "$N" -ms 128 -mpa 512 bench >"$DIR/bench.out" 2>&1
grep -m1 'msgs/sec' "$DIR/bench.out" || true
kill -INT "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
SRV_PID=
TOTAL=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "stan-server: $TOTAL instructions, $((TOTAL / N)) per message ($OUT)"
callgrind_annotate "$OUT" 2>/dev/null | sed -n '/file:function/,$p' | sed -n 3,15p | cut -c1-160 || true
