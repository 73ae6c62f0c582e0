'use strict'
// Command-line options of `npm run bench` (bench/run.js).

const SECTIONS = ['clients', 'payloads', 'raw', 'latency', 'servers', 'scaling']

const USAGE = `usage: npm run bench -- [options]
  --smoke               a few thousand messages, 1 repetition, every section (also BENCH_SMOKE=1);
                        exits non-zero if a section fails or a count is wrong
  --runs R              repetitions (alternating pairs), default 3
  --n N                 messages per throughput run, default 100000
  --lat-n N             round trips of the latency run, default 5000
  --windows A,B         publish windows (maxPubAcksInflight), default 512,16384
  --sizes A,B,C         payload sizes of the payload section, default 128,1024,65536
  --server ours|reference   the server of the client sections, default ours (stan-server)
  --only S,S            run only these sections: ${SECTIONS.join(', ')}
  --timeout SECONDS     limit for every single run (client, stan-bench, raw bench), default 120`

function usage (msg) {
  if (msg) console.error(`bench: ${msg}`)
  console.error(USAGE)
  process.exit(msg ? 2 : 0)
}

function int (s, name) {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) usage(`${name} must be a positive integer, got ${JSON.stringify(s)}`)
  return n
}

function ints (s, name) {
  return String(s).split(',').map((x) => int(x, name))
}

function parseArgs (argv, env = process.env) {
  const smoke = argv.includes('--smoke') || (env.BENCH_SMOKE !== undefined && env.BENCH_SMOKE !== '' && env.BENCH_SMOKE !== '0')
  const o = {
    smoke,
    runs: smoke ? 1 : 3,
    n: smoke ? 2000 : 100000,
    latN: smoke ? 100 : 5000,
    windows: [512, 16384],
    sizes: [128, 1024, 65536],
    server: env.STAN_SERVER_IMPL === 'reference' ? 'reference' : 'ours',
    only: SECTIONS.slice(),
    timeoutMs: (smoke ? 30 : 120) * 1000
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--smoke') continue
    else if (a === '--n') o.n = int(v(), a)
    else if (a === '--lat-n') o.latN = int(v(), a)
    else if (a === '--runs') o.runs = int(v(), a)
    else if (a === '--windows' || a === '--window') o.windows = ints(v(), a)
    else if (a === '--sizes' || a === '--size') o.sizes = ints(v(), a)
    else if (a === '--server') o.server = v()
    else if (a === '--reference') o.server = 'reference'
    else if (a === '--timeout') o.timeoutMs = int(v(), a) * 1000
    else if (a === '--only') {
      o.only = v().split(',')
      for (const s of o.only) if (!SECTIONS.includes(s)) usage(`unknown section ${s} (sections: ${SECTIONS.join(', ')})`)
    } else if (a === '-h' || a === '--help') usage()
    else usage(`unknown argument ${a}`)
  }
  if (o.server !== 'ours' && o.server !== 'reference') usage('--server is ours or reference')
  // Derived loads: big payloads and many subscribers get fewer messages, so
  // that a run stays about as long (and the memory store stays bounded).
  o.nFor = (size) => (size > 4096 ? Math.max(50, Math.round(o.n / 20)) : o.n)
  o.subsN = Math.max(100, Math.round(o.n / 10))
  return o
}

module.exports = { parseArgs, SECTIONS, USAGE }
