'use strict'
// The install test, as a newcomer would: in a fresh temporary project, with
// no Rust toolchain on PATH and nothing of this clone on it, install the
// tarballs of `npm run package` under the name the course uses
// ("node-nats-streaming": "file:<tarball>", plus the platform tarball),
// compile the course's TypeScript publisher/listener with `tsc --strict`,
// start `npx stan-server`, run the listener and the publisher and see the
// event, and run a Jest test that uses startTestServer().
//   node __test__/install/run.js        (after `npm run setup`)
// Prints `install: N passed, M failed`; exits non-zero on any failure.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, spawnSync } = require('child_process')

const { freePort, waitPort, stopGroup, httpGet, sleep } = require('../../lib/loopback')

/** Waits (bounded) until GET /streaming/serverz on `port` answers 200. */
async function waitServerz (port, ms) {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if ((await httpGet(`http://127.0.0.1:${port}/streaming/serverz`, 1000)).status === 200) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`stan-server: /streaming/serverz on ${port} did not answer within ${ms} ms`)
    await sleep(50)
  }
}

const ROOT = path.resolve(__dirname, '..', '..')
const EXAMPLE = path.join(ROOT, 'examples', 'nats-test')
const STEP_TIMEOUT_MS = 180000
const results = []
const started = []

function log (...a) {
  console.log('install:', ...a)
}

/** PATH without cargo/rustup and without this clone's folders. */
function cleanPath () {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((d) => d && !/\.cargo|rustup/.test(d) && !d.startsWith(ROOT))
    .join(path.delimiter)
}

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: STEP_TIMEOUT_MS, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`)
  }
  return r.stdout
}

async function step (name, fn) {
  const t0 = Date.now()
  try {
    const detail = await fn()
    results.push(true)
    log(`ok    ${name} (${Date.now() - t0} ms)${detail ? ': ' + detail : ''}`)
  } catch (e) {
    results.push(false)
    log(`FAIL  ${name} (${Date.now() - t0} ms): ${e.message}`)
  }
}

/** Start a process in its own group; remembered so it is always stopped. */
function startGroup (cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  child.out = ''
  child.stdout.on('data', (d) => { child.out += d })
  child.stderr.on('data', (d) => { child.out += d })
  started.push(child)
  return child
}

function waitOutput (child, re, ms, what) {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const check = () => {
      if (re.test(child.out)) return resolve(child.out)
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}; output:\n${child.out.slice(-2000)}`))
      setTimeout(check, 100)
    }
    check()
  })
}

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-install-'))
  const env = { ...process.env, PATH: cleanPath(), npm_config_update_notifier: 'false' }
  delete env.STAN_SERVER_BIN
  delete env.NATS_SERVER_BIN
  delete env.STAN_NODE_ADDON
  let tarballs = {}

  await step('npm run package makes the main and the platform tarball', () => {
    const out = run('node', [path.join(ROOT, 'scripts', 'package.js')], { cwd: ROOT })
    const dist = path.join(ROOT, 'dist')
    const files = fs.readdirSync(dist)
    tarballs = {
      main: path.join(dist, files.find((f) => /^stan-rs-\d/.test(f))),
      platform: path.join(dist, files.find((f) => f.startsWith('stan-rs-linux-x64-gnu-')))
    }
    return out.trim().split('\n').join(', ')
  })

  await step('a fresh project installs them with no Rust toolchain on PATH', () => {
    const which = spawnSync('sh', ['-c', 'command -v cargo rustc'], { env, encoding: 'utf8' })
    if (which.stdout.trim() !== '') throw new Error(`cargo is still on PATH: ${which.stdout}`)
    const rootPkg = require(path.join(ROOT, 'package.json'))
    const exPkg = require(path.join(EXAMPLE, 'package.json'))
    const pkg = {
      name: 'course-service',
      version: '1.0.0',
      private: true,
      dependencies: {
        'node-nats-streaming': `file:${tarballs.main}`,
        'stan-rs-linux-x64-gnu': `file:${tarballs.platform}`
      },
      devDependencies: {
        typescript: rootPkg.devDependencies.typescript,
        '@types/node': rootPkg.devDependencies['@types/node'],
        jest: rootPkg.devDependencies.jest,
        'ts-jest': rootPkg.devDependencies['ts-jest'],
        '@types/jest': rootPkg.devDependencies['@types/jest']
      }
    }
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2))
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env })
    const resolved = run('node', ['-p', "require.resolve('node-nats-streaming')"], { cwd: dir, env }).trim()
    if (!resolved.startsWith(dir)) throw new Error(`resolved outside the project: ${resolved}`)
    const addon = path.join(dir, 'node_modules', 'stan-rs-linux-x64-gnu', 'stan-node.linux-x64-gnu.node')
    if (!fs.existsSync(addon)) throw new Error('the platform package has no addon')
    return `node-nats-streaming -> ${path.relative(dir, resolved)} (example deps: ${Object.keys(exPkg.dependencies || {}).join(', ')})`
  })

  let port, mport
  await step("the course's TypeScript publisher/listener compile with tsc --strict", async () => {
    port = await freePort()
    mport = await freePort()
    fs.cpSync(path.join(EXAMPLE, 'src'), path.join(dir, 'src'), { recursive: true })
    // The course connects to localhost:4222; the test uses a free port instead.
    for (const f of ['publisher.ts', 'listener.ts']) {
      const p = path.join(dir, 'src', f)
      const text = fs.readFileSync(p, 'utf8')
      if (!text.includes('localhost:4222')) throw new Error(`${f} no longer connects to localhost:4222`)
      fs.writeFileSync(p, text.replace('localhost:4222', `localhost:${port}`))
    }
    const tsconfig = {
      compilerOptions: { target: 'es2020', module: 'commonjs', strict: true, esModuleInterop: true, outDir: 'dist', rootDir: 'src', skipLibCheck: false },
      include: ['src']
    }
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
    run(path.join(dir, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: dir, env })
    return 'dist/publisher.js, dist/listener.js'
  })

  await step('npx stan-server serves; the listener receives the publisher\'s event', async () => {
    const server = startGroup('npx', ['--no-install', 'stan-server', '-p', String(port), '-m', String(mport), '-a', '127.0.0.1', '-cid', 'ticketing', '-SD'], { cwd: dir, env })
    await waitPort(port, 20000)
    // Streaming layer up (subscribed) once serverz answers, not when NATS accepts.
    await waitServerz(mport, 20000)
    const listener = startGroup('node', ['dist/listener.js'], { cwd: dir, env })
    await waitOutput(listener, /Listener connected/i, 15000, 'the listener to connect')
    const publisher = startGroup('node', ['dist/publisher.js'], { cwd: dir, env })
    const out = await waitOutput(listener, /Event data! \{ id: '123', title: 'concert', price: 20 \}/, 15000, 'the event')
    await Promise.all([stopGroup(publisher), stopGroup(listener), stopGroup(server)])
    if (!/Streaming Server is ready/.test(server.out)) throw new Error('no ready line from stan-server:\n' + server.out.slice(-1000))
    return out.split('\n').find((l) => /Event data!/.test(l)).trim()
  })

  await step('a Jest test with startTestServer() passes in the project', () => {
    fs.mkdirSync(path.join(dir, 'test'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'test', 'ticket.test.ts'), `
import nats, { Message } from 'node-nats-streaming';
import { startTestServer, TestServer } from 'node-nats-streaming/testing';

let server: TestServer;
beforeAll(async () => { server = await startTestServer({ clusterId: 'ticketing' }); });
afterAll(async () => { await server.stop(); });

it('publishes and receives ticket:created on a real server', async () => {
  const sc = await nats.connectAsync(server.clusterId, 'jest-client', { url: server.url });
  const sub = sc.subscribe('ticket:created', sc.subscriptionOptions().setDeliverAllAvailable());
  const got = new Promise<string>((resolve) => sub.on('message', (m: Message) => resolve(String(m.getData()))));
  await sc.publishAsync('ticket:created', JSON.stringify({ id: '123' }));
  expect(JSON.parse(await got)).toEqual({ id: '123' });
  await sc.closeAsync();
});
`)
    fs.writeFileSync(path.join(dir, 'jest.config.js'), "module.exports = { preset: 'ts-jest', testEnvironment: 'node', testMatch: ['<rootDir>/test/**/*.test.ts'] }\n")
    const out = spawnSync(path.join(dir, 'node_modules', '.bin', 'jest'), ['--ci'], { cwd: dir, env, encoding: 'utf8', timeout: STEP_TIMEOUT_MS })
    const text = (out.stdout || '') + (out.stderr || '')
    if (out.status !== 0 || !/Tests:\s+1 passed, 1 total/.test(text)) throw new Error('jest failed:\n' + text.slice(-3000))
    return 'Tests: 1 passed, 1 total'
  })

  await Promise.all(started.map(stopGroup))
  fs.rmSync(dir, { recursive: true, force: true })
  const passed = results.filter(Boolean).length
  const failed = results.length - passed
  console.log(`install: ${passed} passed, ${failed} failed`)
  process.exit(failed === 0 ? 0 : 1)
}

process.on('SIGTERM', () => {
  for (const c of started) try { process.kill(-c.pid, 'SIGKILL') } catch (_) {}
  process.exit(1)
})

main().catch((e) => {
  console.error(e)
  for (const c of started) try { process.kill(-c.pid, 'SIGKILL') } catch (_) {}
  process.exit(1)
})
