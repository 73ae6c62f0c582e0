#!/usr/bin/env node
'use strict'
// `npx stan-server ...`: runs the stan-server binary of the installed
// platform package (or $STAN_SERVER_BIN / a clone's build / PATH) with every
// argument, using the nats-server that came with it unless $NATS_SERVER_BIN
// is set. Signals are passed on; the exit code is the server's.
const { spawn } = require('child_process')
const { stanServer, natsServer } = require('../lib/binaries')

let bin
const env = { ...process.env }
try {
  bin = stanServer()
  if (!env.NATS_SERVER_BIN) env.NATS_SERVER_BIN = natsServer()
} catch (e) {
  console.error(e.message)
  process.exit(1)
}
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit', env })
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig))
child.on('error', (e) => {
  console.error(`stan-server: cannot run ${bin}: ${e.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code))
