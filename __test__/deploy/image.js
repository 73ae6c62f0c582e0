'use strict'
// The container image test: build the OCI image with deploy/image/build.sh (no
// container daemon), check its layout (every digest and size), its config
// (entrypoint stan-server, ports 4222/8222, a non-root user, the /data
// volume), unpack it with umoci (an independent reader of the layout), then
// run the unpacked root filesystem's entrypoint as the image's user, chrooted
// into it, with the Kubernetes manifests' arguments (ports swapped for free
// loopback ones): a client publishes and receives, and the monitoring
// endpoint answers; with the StatefulSet's `-st FILE --dir /data` a message
// survives a restart.
//   node __test__/deploy/image.js      (as root, after `npm run setup`)
// Prints `image: N passed, M failed`; exits non-zero on any failure.
// STAN_IMAGE_LAYOUT=<dir> tests an already built layout instead of building one.
const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const zlib = require('zlib')
const { spawnSync } = require('child_process')
const h = require('./harness')

const t = new h.Steps('image')

const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((p) => fs.existsSync(p)) || 'chroot'
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex')

function run (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 900000, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`)
  }
  return r.stdout
}

/** A blob of the layout, its size and digest checked against the descriptor. */
function readBlob (layout, desc) {
  const m = /^sha256:([0-9a-f]{64})$/.exec(desc.digest || '')
  if (!m) throw new Error(`not a sha256 digest: ${desc.digest}`)
  const buf = fs.readFileSync(path.join(layout, 'blobs', 'sha256', m[1]))
  if (buf.length !== desc.size) throw new Error(`${desc.digest}: size ${buf.length}, descriptor says ${desc.size}`)
  if (sha256(buf) !== m[1]) throw new Error(`${desc.digest}: content hashes to sha256:${sha256(buf)}`)
  return buf
}

/** The uid, gid of a running process (from /proc). */
function procIds (pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)
  const gid = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status)
  const groups = /^Groups:[ \t]*(.*)$/m.exec(status)[1].trim()
  return { uid: Number(uid[1]), euid: Number(uid[2]), gid: Number(gid[1]), egid: Number(gid[2]), groups }
}

function childPids (pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
  } catch (_) {
    return []
  }
}

async function main () {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-rs-image-'))
  let layout = process.env.STAN_IMAGE_LAYOUT
  let manifest, config, tag, rootfs
  const done = async () => {
    await Promise.all(t.started.map(h.stop))
    fs.rmSync(out, { recursive: true, force: true })
    return t.finish()
  }

  await t.step('deploy/image/build.sh builds the OCI layout without a daemon', () => {
    if (layout) return `using STAN_IMAGE_LAYOUT=${layout}`
    const text = run('bash', [path.join(h.ROOT, 'deploy', 'image', 'build.sh'), out], { cwd: h.ROOT })
    layout = path.join(out, 'stan-server')
    if (!fs.existsSync(path.join(out, 'stan-server-oci.tar'))) throw new Error('no stan-server-oci.tar')
    return text.trim().split('\n').pop()
  })

  await t.step('the build is reproducible: a second build has the same manifest digest', () => {
    if (process.env.STAN_IMAGE_LAYOUT) return 'not checked with STAN_IMAGE_LAYOUT'
    const again = path.join(out, 'again')
    run('bash', [path.join(h.ROOT, 'deploy', 'image', 'build.sh'), again], { cwd: h.ROOT })
    const a = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')).manifests[0].digest
    const b = JSON.parse(fs.readFileSync(path.join(again, 'stan-server', 'index.json'), 'utf8')).manifests[0].digest
    fs.rmSync(again, { recursive: true, force: true })
    if (a !== b) throw new Error(`${a} then ${b}`)
    return a
  })

  await t.step('the layout: oci-layout, index, manifest, config and layer with matching digests and sizes', () => {
    const ociLayout = JSON.parse(fs.readFileSync(path.join(layout, 'oci-layout'), 'utf8'))
    if (ociLayout.imageLayoutVersion !== '1.0.0') throw new Error(`imageLayoutVersion ${ociLayout.imageLayoutVersion}`)
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'))
    if (index.schemaVersion !== 2 || index.manifests.length !== 1) throw new Error(`index: ${JSON.stringify(index)}`)
    const desc = index.manifests[0]
    if (desc.mediaType !== 'application/vnd.oci.image.manifest.v1+json') throw new Error(`manifest mediaType ${desc.mediaType}`)
    tag = desc.annotations['org.opencontainers.image.ref.name']
    const cargoVersion = /^version = "(.*)"/m.exec(fs.readFileSync(path.join(h.ROOT, 'Cargo.toml'), 'utf8'))[1]
    if (tag !== cargoVersion) throw new Error(`tag ${tag}, crate version ${cargoVersion}`)
    manifest = JSON.parse(readBlob(layout, desc))
    if (manifest.config.mediaType !== 'application/vnd.oci.image.config.v1+json') throw new Error(`config mediaType ${manifest.config.mediaType}`)
    config = JSON.parse(readBlob(layout, manifest.config))
    if (manifest.layers.length !== config.rootfs.diff_ids.length) throw new Error('layers and diff_ids differ in number')
    manifest.layers.forEach((l, i) => {
      if (l.mediaType !== 'application/vnd.oci.image.layer.v1.tar+gzip') throw new Error(`layer mediaType ${l.mediaType}`)
      const tar = zlib.gunzipSync(readBlob(layout, l))
      if (`sha256:${sha256(tar)}` !== config.rootfs.diff_ids[i]) throw new Error(`layer ${i}: diff_id does not match the uncompressed layer`)
    })
    const size = manifest.layers.reduce((n, l) => n + l.size, 0)
    return `tag ${tag}, ${manifest.layers.length} layer(s), ${(size / 1048576).toFixed(1)} MiB compressed`
  })

  let uid, gid
  await t.step('the config: entrypoint stan-server, ports 4222 and 8222, a non-root user, a /data volume', () => {
    const c = config.config
    if (config.os !== 'linux' || config.architecture !== 'amd64') throw new Error(`platform ${config.os}/${config.architecture}`)
    if (!Array.isArray(c.Entrypoint) || path.posix.basename(c.Entrypoint[0]) !== 'stan-server') throw new Error(`Entrypoint ${JSON.stringify(c.Entrypoint)}`)
    for (const p of ['4222/tcp', '8222/tcp']) if (!c.ExposedPorts || !(p in c.ExposedPorts)) throw new Error(`ExposedPorts ${JSON.stringify(c.ExposedPorts)} lacks ${p}`)
    const m = /^(\d+):(\d+)$/.exec(c.User || '')
    if (!m) throw new Error(`User ${JSON.stringify(c.User)} is not a numeric uid:gid (Kubernetes' runAsNonRoot needs a numeric user)`)
    uid = Number(m[1])
    gid = Number(m[2])
    if (uid === 0 || gid === 0) throw new Error(`User ${c.User} is root`)
    if (!c.Volumes || !('/data' in c.Volumes)) throw new Error(`Volumes ${JSON.stringify(c.Volumes)} lacks /data`)
    return `Entrypoint ${JSON.stringify(c.Entrypoint)}, User ${c.User}, ports ${Object.keys(c.ExposedPorts).join(' ')}, volume /data`
  })

  await t.step('the manifests run the image as its user', () => {
    const checked = []
    for (const { file, docs } of h.manifests()) {
      for (const { name, pod, container } of h.containers(docs)) {
        const sc = { ...(pod.securityContext || {}), ...(container.securityContext || {}) }
        if (sc.runAsUser !== uid || sc.runAsNonRoot !== true) throw new Error(`${path.basename(file)} ${name}: runAsUser ${sc.runAsUser}, runAsNonRoot ${sc.runAsNonRoot}; the image's user is ${uid}`)
        if (!/(^|\/)stan-server:/.test(container.image)) throw new Error(`${path.basename(file)} ${name}: image ${container.image}`)
        checked.push(`${path.basename(file)}/${name}`)
      }
    }
    if (checked.length < 2) throw new Error(`only ${checked.length} pod template(s) found in deploy/k8s`)
    return checked.join(', ')
  })

  const bundle = path.join(out, 'bundle')
  await t.step('umoci unpacks the image; the binaries are static; /data belongs to the image user', () => {
    if (process.getuid() !== 0) throw new Error('run as root: the image is unpacked with its owners and run in a chroot')
    run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle])
    rootfs = path.join(bundle, 'rootfs')
    for (const b of ['stan-server', 'nats-server']) {
      const f = path.join(rootfs, 'usr', 'local', 'bin', b)
      const elf = run('readelf', ['-lW', f], { env: { ...process.env, LC_ALL: 'C' } })
      if (/Requesting program interpreter/.test(elf)) throw new Error(`${b} is dynamically linked`)
    }
    const st = fs.statSync(path.join(rootfs, 'data'))
    if (st.uid !== uid || st.gid !== gid) throw new Error(`/data owned by ${st.uid}:${st.gid}`)
    const passwd = fs.readFileSync(path.join(rootfs, 'etc', 'passwd'), 'utf8')
    if (!new RegExp(`^[^:]+:x:${uid}:${gid}:`, 'm').test(passwd)) throw new Error(`/etc/passwd has no user ${uid}`)
    const files = run('find', [rootfs, '-type', 'f']).trim().split('\n').map((f) => path.relative(rootfs, f)).sort()
    return files.join(', ')
  })

  /** Run the image's entrypoint in the unpacked rootfs as the image user, with the image's Env. */
  async function runImage (args) {
    const port = await h.freePort()
    const mport = await h.freePort()
    const c = config.config
    const argv = [...h.withValues(args, { p: port, m: mport }), '-a', '127.0.0.1']
    const env = Object.fromEntries(c.Env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    const server = t.start(CHROOT, [`--userspec=${uid}:${gid}`, '--groups=', rootfs, ...c.Entrypoint, ...argv], { env, cwd: '/' })
    await h.waitHttp(`http://127.0.0.1:${mport}/streaming/serverz`, server, 30000)
    return { server, port, mport, argv }
  }

  const deployment = h.manifests().flatMap(({ docs }) => h.containers(docs)).find((x) => x.kind === 'Deployment')
  const statefulset = h.manifests().flatMap(({ docs }) => h.containers(docs)).find((x) => x.kind === 'StatefulSet')

  if (!rootfs) {
    t.skip("the entrypoint runs with the Deployment's args", 'the image was not unpacked')
    t.skip("the StatefulSet's file store under /data survives a restart", 'the image was not unpacked')
    return done()
  }

  await t.step("the entrypoint runs with the Deployment's args as the image user: a client and the monitoring endpoint", async () => {
    const args = deployment.container.args
    const cid = h.argValue(args, 'cid', 'cluster_id')
    const { server, port, mport, argv } = await runImage(args)
    const ids = procIds(server.pid)
    if (ids.uid !== uid || ids.euid !== uid || ids.gid !== gid || ids.egid !== gid || ids.groups !== '') throw new Error(`stan-server runs as ${JSON.stringify(ids)}`)
    const nats = childPids(server.pid)
    if (nats.length !== 1) throw new Error(`expected one nats-server child, found ${nats.length}`)
    const natsIds = procIds(nats[0])
    if (natsIds.uid !== uid) throw new Error(`nats-server runs as uid ${natsIds.uid}`)
    const got = await h.roundTrip(`nats://127.0.0.1:${port}`, cid, 'ticket:created', '{"id":"123"}')
    if (got !== '{"id":"123"}') throw new Error(`received ${got}`)
    const serverz = await h.getJson(`http://127.0.0.1:${mport}/streaming/serverz`)
    if (serverz.cluster_id !== cid) throw new Error(`serverz cluster_id ${serverz.cluster_id}`)
    const ch = await h.getJson(`http://127.0.0.1:${mport}/streaming/channelsz?channel=ticket:created`)
    if (ch.msgs !== 1) throw new Error(`channelsz: ${JSON.stringify(ch)}`)
    await h.stop(server)
    if (!/Streaming Server is ready/.test(server.out)) throw new Error(`no ready line:\n${server.out.slice(-1500)}`)
    return `${config.config.Entrypoint.join(' ')} ${argv.join(' ')}: stan-server uid ${ids.uid}, nats-server uid ${natsIds.uid}, received ${got}, serverz cluster_id ${serverz.cluster_id}, channelsz msgs ${ch.msgs}`
  })

  await t.step("the StatefulSet's args: the file store under /data is written as the image user and survives a restart", async () => {
    const args = statefulset.container.args
    const cid = h.argValue(args, 'cid', 'cluster_id')
    const dir = h.argValue(args, 'dir')
    const mount = statefulset.container.volumeMounts.find((v) => v.mountPath === dir)
    if (!mount) throw new Error(`--dir ${dir} is not a volume mount of the StatefulSet`)
    const first = await runImage(args)
    const got = await h.roundTrip(`nats://127.0.0.1:${first.port}`, cid, 'ticket:created', 'kept')
    if (got !== 'kept') throw new Error(`received ${got}`)
    await h.stop(first.server)
    const written = run('find', [path.join(rootfs, dir), '-mindepth', '1', '-printf', '%u:%g %P\n']).trim().split('\n').filter(Boolean)
    if (written.length === 0) throw new Error(`nothing written under ${dir}`)
    const notMine = written.filter((l) => !l.startsWith(`${uid}:${gid} `))
    if (notMine.length) throw new Error(`files under ${dir} not owned by ${uid}:${gid}: ${notMine.join(', ')}`)
    const second = await runImage(args)
    const ch = await h.getJson(`http://127.0.0.1:${second.mport}/streaming/channelsz?channel=ticket:created`)
    await h.stop(second.server)
    if (ch.msgs !== 1) throw new Error(`after a restart, channelsz: ${JSON.stringify(ch)}`)
    return `${written.length} file(s) under ${dir} owned by ${uid}:${gid}; after a restart channelsz msgs ${ch.msgs}`
  })

  return done()
}

main().catch((e) => {
  console.error(e)
  t.killAll()
  process.exit(1)
})
