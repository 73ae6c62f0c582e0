'use strict'
// A tiny static file server for the browser demo and the browser tests:
// serves examples/browser/ at `/`, and npm/wasm/ (the browser package) and
// browser-tests/ under their own paths, plus /config.json for the page.
//
//   node examples/browser/serve.js --port 8000 --ws ws://127.0.0.1:8080 [--cluster test-cluster]
const http = require('http')
const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..', '..')
const MOUNTS = [
  ['/npm/wasm/', path.join(ROOT, 'npm', 'wasm')],
  ['/browser-tests/', path.join(ROOT, 'browser-tests')],
  ['/', __dirname]
]
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.ts': 'text/plain; charset=utf-8'
}

/** Map a URL path to a file under one of the mounts, or null. */
function resolve (urlPath) {
  let p
  try {
    p = decodeURIComponent(urlPath.split('?')[0])
  } catch (e) {
    return null
  }
  if (p === '/') p = '/index.html'
  for (const [prefix, dir] of MOUNTS) {
    if (!p.startsWith(prefix)) continue
    const file = path.resolve(dir, '.' + p.slice(prefix.length - 1))
    if (file !== dir && !file.startsWith(dir + path.sep)) return null
    return file
  }
  return null
}

/** Start serving on 127.0.0.1:`port` (0 = any free port); resolves to the http.Server. */
function start ({ port = 0, config = {} } = {}) {
  const server = http.createServer((req, res) => {
    if (req.url.split('?')[0] === '/config.json') {
      res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' })
      res.end(JSON.stringify(config))
      return
    }
    const file = resolve(req.url)
    if (file === null) {
      res.writeHead(403).end('forbidden')
      return
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
        return
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' })
      res.end(body)
    })
  })
  return new Promise((resolveStart, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolveStart(server))
  })
}

module.exports = { start, resolve }

if (require.main === module) {
  const args = process.argv.slice(2)
  const arg = (name, dflt) => {
    const i = args.indexOf(name)
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt
  }
  const config = { url: arg('--ws', 'ws://127.0.0.1:8080'), clusterID: arg('--cluster', 'test-cluster') }
  if (!fs.existsSync(path.join(ROOT, 'npm', 'wasm', 'pkg', 'stan_wasm.js'))) {
    console.error('npm/wasm/pkg is missing: run scripts/build-wasm.sh first')
    process.exit(1)
  }
  start({ port: Number(arg('--port', 8000)), config }).then((s) => {
    console.log(`demo: http://127.0.0.1:${s.address().port}/  (NATS WebSocket ${config.url}, cluster ${config.clusterID})`)
  })
}
