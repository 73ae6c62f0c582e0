//! Test harness: starts a STAN server on free loopback ports and stops it again.
//!
//! `STAN_SERVER_IMPL=ours` (default) runs our `stan-server` (target/release, or
//! `STAN_SERVER_BIN`), which finds its nats-server through `NATS_SERVER_BIN`.
//! `STAN_SERVER_IMPL=reference` runs the Go nats-streaming-server 0.25.6
//! (`.tools/bin`, or `STAN_REFERENCE_BIN`). Both get the same flags.
//!
//! `natsServer: await NatsServer.start()` runs either implementation with
//! `-ns <url>` against a nats-server this harness started separately, so a test
//! can restart NATS under running clients (disconnect/reconnect) or stop the
//! streaming server while NATS stays up.
//!
//! `STAN_STORE=sql-postgres|sql-mysql` gives every server started without
//! `store: 'FILE'` an SQL store on a fresh database (sqldb.ts).
//! `STAN_STORE=jetstream` (ours only) runs every server a test starts with the
//! default (memory) store on `--store jetstream` instead: the harness starts a
//! private JetStream nats-server (`-js`, its own store directory) on the
//! server's port and runs stan-server with `-ns` to it. A test that chooses its
//! own store, NATS server, credentials or TLS keeps its setup. The JetStream
//! server stands in for ours' nats-server child: `stop()`/`kill9()` end it
//! too and `restart()` starts it again (its data stay: state survives a
//! restart, unlike the memory store); `dispose()` also removes its data.
//!
//! Every server runs in a process group of its own that this harness created,
//! so stop()/kill9() also end any child (ours runs a nats-server child) and
//! nothing is left behind; Jest's globalTeardown kills any group a test file
//! failed to stop (registry.ts). Only PIDs started here are ever signalled.

import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { httpGet } from './http';
import { RawNats } from './rawnats';
import { register, unregister } from './registry';
import { freshDatabaseArgs, sqlStore } from './sqldb';

export type Impl = 'ours' | 'reference';

export const ROOT = path.resolve(__dirname, '..', '..');

export function impl(): Impl {
  const v = (process.env.STAN_SERVER_IMPL ?? 'ours').toLowerCase();
  if (v !== 'ours' && v !== 'reference') {
    throw new Error(`STAN_SERVER_IMPL must be 'ours' or 'reference', got '${v}'`);
  }
  return v;
}

export function serverBinary(which: Impl = impl()): string {
  if (which === 'reference') {
    return process.env.STAN_REFERENCE_BIN ?? path.join(ROOT, '.tools', 'bin', 'nats-streaming-server');
  }
  return process.env.STAN_SERVER_BIN ?? path.join(ROOT, 'target', 'release', 'stan-server');
}

export function natsServerBinary(): string {
  return process.env.NATS_SERVER_BIN ?? path.join(ROOT, '.tools', 'venv', 'bin', 'nats-server');
}

export interface ServerOptions {
  /** Cluster ID (`-cid`); default `test-cluster`. */
  clusterId?: string;
  /** Heartbeat interval, timeout and fail count (`-hbi`, `-hbt`, `-hbf`). */
  hbi?: string;
  hbt?: string;
  hbf?: number;
  /** `FILE` adds `-st FILE --dir <dir>` (a fresh temp dir unless given). */
  store?: 'MEMORY' | 'FILE';
  dir?: string;
  /** `-SD` (STAN debug logging). Default true: the logs help when a test fails. */
  debug?: boolean;
  /**
   * Require credentials from every client (`--user/--pass` or `--auth`); the
   * harness's own readiness probe presents them.
   */
  auth?: { user: string; pass: string } | { token: string };
  /**
   * The server speaks TLS only (its TLS flags are in `extraArgs`): the
   * readiness probe connects over TLS trusting this CA file (PEM).
   */
  tlsCa?: string;
  /** Extra flags appended as they are. */
  extraArgs?: string[];
  /** How long start() may take before it gives up. */
  startTimeoutMs?: number;
  /**
   * Run with `-ns <natsServer.url>` against this separately started
   * nats-server instead of an embedded one (ours: instead of its child). The
   * STAN server's `port`/`url` are then the nats-server's.
   */
  natsServer?: NatsServer;
}

/** The store `STAN_STORE` selects for tests that keep the default one. */
export function storeKind(): 'default' | 'jetstream' | 'sql' {
  const v = (process.env.STAN_STORE ?? '').toLowerCase();
  if (v === '' || v === 'default' || v === 'memory') return 'default';
  if (v === 'jetstream') return 'jetstream';
  if (v === 'sql-postgres' || v === 'sql-mysql') return 'sql';
  throw new Error(`STAN_STORE must be jetstream, sql-postgres, sql-mysql or unset, got '${v}'`);
}

/** Ask the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A discover request over TLS (trusting `caFile`) with nats.js v1, the NATS
 * client under the reference STAN client; resolves once any reply arrives.
 */
function discoverOverTls(port: number, caFile: string, subject: string, timeoutMs: number): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const natsV1 = require('nats') as typeof import('nats');
  return new Promise((resolve, reject) => {
    const nc = natsV1.connect({
      url: `tls://127.0.0.1:${port}`,
      tls: { ca: [fs.readFileSync(caFile)] },
      reconnect: false,
      timeout: timeoutMs,
    });
    const timer = setTimeout(() => finish(new Error('no reply over TLS')), timeoutMs + 500);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      try {
        nc.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve();
    };
    nc.on('error', (e: Error) => finish(e));
    nc.on('connect', () => {
      nc.requestOne(subject, '', timeoutMs, (r: unknown) =>
        r instanceof Error ? finish(r) : finish(),
      );
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const LOG_LIMIT = 256 * 1024;

export class StanServer {
  readonly impl: Impl;
  readonly clusterId: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly dir: string | undefined;
  private readonly opts: ServerOptions;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logBuf = '';
  private ownsDir = false;
  /** `-st SQL ...` flags under STAN_STORE=sql-* (a database of its own, kept across restarts). */
  private sqlArgs: string[] = [];
  /** The JetStream nats-server this harness started for `STAN_STORE=jetstream`. */
  private jsNats: NatsServer | undefined;

  private constructor(opts: ServerOptions, port: number, monitorPort: number, dir: string | undefined) {
    this.impl = impl();
    this.opts = opts;
    this.clusterId = opts.clusterId ?? 'test-cluster';
    this.port = opts.natsServer?.port ?? port;
    this.monitorPort = monitorPort;
    this.dir = dir;
  }

  /** Start a server on fresh ports and wait until it answers STAN requests. */
  static async start(opts: ServerOptions = {}): Promise<StanServer> {
    const port = await freePort();
    let monitorPort = await freePort();
    while (monitorPort === port) monitorPort = await freePort();
    let dir = opts.dir;
    let ownsDir = false;
    if (opts.store === 'FILE' && dir === undefined) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-test-store-'));
      ownsDir = true;
    }
    let jsNats: NatsServer | undefined;
    if (
      storeKind() === 'jetstream' &&
      impl() === 'ours' &&
      (opts.store ?? 'MEMORY') === 'MEMORY' &&
      opts.natsServer === undefined &&
      opts.auth === undefined &&
      opts.tlsCa === undefined
    ) {
      jsNats = await NatsServer.start({ jetstream: true, port });
      opts = { ...opts, natsServer: jsNats, extraArgs: ['--store', 'jetstream', ...(opts.extraArgs ?? [])] };
    }
    const s = new StanServer(opts, port, monitorPort, dir);
    s.ownsDir = ownsDir;
    const sql = sqlStore();
    if (sql !== undefined && opts.store !== 'FILE') s.sqlArgs = freshDatabaseArgs(sql);
    s.jsNats = jsNats;
    try {
      await s.launch();
    } catch (e) {
      await jsNats?.dispose();
      throw e;
    }
    return s;
  }

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `http://127.0.0.1:<monport>` */
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The server's stdout and stderr so far (the last 256 KiB). */
  logs(): string {
    return this.logBuf;
  }

  args(): string[] {
    const o = this.opts;
    const a = ['-a', '127.0.0.1', '-m', String(this.monitorPort), '-cid', this.clusterId];
    if (o.natsServer !== undefined) a.push('-ns', o.natsServer.url);
    else a.push('-p', String(this.port));
    if (o.hbi !== undefined) a.push('-hbi', o.hbi);
    if (o.hbt !== undefined) a.push('-hbt', o.hbt);
    if (o.hbf !== undefined) a.push('-hbf', String(o.hbf));
    if (o.store === 'FILE') a.push('-st', 'FILE', '--dir', this.dir as string);
    a.push(...this.sqlArgs);
    if (o.debug ?? true) a.push('-SD');
    if (o.auth !== undefined) {
      if ('token' in o.auth) a.push('--auth', o.auth.token);
      else a.push('--user', o.auth.user, '--pass', o.auth.pass);
    }
    if (o.extraArgs) a.push(...o.extraArgs);
    return a;
  }

  private async launch(): Promise<void> {
    const bin = serverBinary(this.impl);
    if (!fs.existsSync(bin)) {
      throw new Error(
        `${this.impl} server binary not found at ${bin}` +
          (this.impl === 'ours' ? ' (run `cargo build --release -p stan-server`, or set STAN_SERVER_BIN)' : ' (run .ci/setup)'),
      );
    }
    const env = { ...process.env, NATS_SERVER_BIN: natsServerBinary() };
    const proc = spawn(bin, this.args(), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc = proc;
    if (proc.pid !== undefined) register(proc.pid);
    const onData = (d: Buffer): void => {
      this.logBuf += d.toString('utf8');
      if (this.logBuf.length > LOG_LIMIT) this.logBuf = this.logBuf.slice(-LOG_LIMIT);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exited = new Promise<void>((resolve) => {
      proc.on('exit', () => resolve());
      proc.on('error', (e) => {
        this.logBuf += `\n[harness] spawn error: ${e.message}\n`;
        resolve();
      });
    });
    try {
      await this.waitReady(this.opts.startTimeoutMs ?? 20000);
    } catch (e) {
      await this.kill9();
      throw new Error(`${(e as Error).message}\n--- server log (${this.impl}: ${bin} ${this.args().join(' ')}) ---\n${this.logs()}`);
    }
  }

  /**
   * Ready means: the NATS port sends INFO, /streaming/serverz answers 200, and
   * a request on `_STAN.discover.<cid>` gets a reply (an empty request is
   * invalid, so the reply is an error ConnectResponse, which proves the
   * streaming layer is subscribed and answering).
   */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'not started';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`server exited during start (code ${this.proc?.exitCode}, signal ${this.proc?.signalCode})`);
      try {
        const r = await httpGet(`${this.monitorUrl}/streaming/serverz`, 1000);
        if (r.status !== 200) {
          last = `serverz status ${r.status}`;
        } else {
          const a = this.opts.auth;
          const creds = a === undefined ? {} : 'token' in a ? { auth_token: a.token } : { user: a.user, pass: a.pass };
          if (this.opts.tlsCa !== undefined) {
            await discoverOverTls(this.port, this.opts.tlsCa, `_STAN.discover.${this.clusterId}`, 1000);
            return;
          }
          const nc = await RawNats.connect(this.port, 1000, '127.0.0.1', creds);
          try {
            await nc.request(`_STAN.discover.${this.clusterId}`, Buffer.alloc(0), 1000);
            return;
          } finally {
            void nc.close();
          }
        }
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`server not ready after ${timeoutMs} ms: ${last}`);
  }

  /** SIGSTOP / SIGCONT the server process (it stays subscribed on NATS but answers nothing while stopped). */
  pause(): void {
    this.killGroupSync('SIGSTOP');
  }

  resume(): void {
    this.killGroupSync('SIGCONT');
  }

  /** Signal the whole process group this harness created for the server. */
  killGroupSync(sig: NodeJS.Signals): void {
    const pid = this.proc?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // group already gone
    }
  }

  private async waitExit(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      t = setTimeout(() => resolve(false), ms);
    });
    const done = this.exited.then(() => true);
    const r = await Promise.race([done, timeout]);
    if (t) clearTimeout(t);
    return r;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Also reaps any child left in the group. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.proc === undefined) return;
    if (this.running) {
      try {
        this.proc.kill('SIGTERM');
      } catch {
        // already gone
      }
      // A paused server (pause()) handles the SIGTERM only once it runs again.
      this.killGroupSync('SIGCONT');
      if (!(await this.waitExit(graceMs))) {
        this.killGroupSync('SIGKILL');
        await this.waitExit(5000);
      }
    }
    // The server is gone; anything still in its group (an orphaned child) goes too.
    this.killGroupSync('SIGKILL');
    await this.jsNats?.stop();
    if (this.proc.pid !== undefined) unregister(this.proc.pid);
  }

  /** `kill -9` the server (and its process group). */
  async kill9(): Promise<void> {
    if (this.proc === undefined) return;
    this.killGroupSync('SIGKILL');
    await this.jsNats?.kill9();
    await this.waitExit(5000);
    if (this.proc.pid !== undefined) unregister(this.proc.pid);
  }

  /** Start again with the same flags, ports and store directory. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.logBuf += '\n[harness] ---- restart ----\n';
    if (this.jsNats !== undefined && !this.jsNats.running) await this.jsNats.restart();
    // The ports were just released; retry briefly if the bind races.
    let lastErr: Error | undefined;
    for (let i = 0; i < 3; i++) {
      try {
        await this.launch();
        return;
      } catch (e) {
        lastErr = e as Error;
        await sleep(500);
      }
    }
    throw lastErr;
  }

  /** Stop and remove a store directory this harness created. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.jsNats?.dispose();
    this.jsNats = undefined;
    if (this.ownsDir && this.dir !== undefined) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * A plain nats-server on a free loopback port, in a process group of its own
 * (registered like the STAN servers), for `ServerOptions.natsServer`.
 */
export class NatsServer {
  readonly port: number;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logBuf = '';
  /** With JetStream: its store directory (kept across restarts, removed by dispose()). */
  private storeDir: string | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  /** A plain nats-server; with `jetstream`, `-js` with a fresh store directory. */
  static async start(o: { jetstream?: boolean; port?: number } = {}): Promise<NatsServer> {
    const n = new NatsServer(o.port ?? (await freePort()));
    if (o.jetstream) n.storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-test-js-'));
    await n.launch();
    return n;
  }

  /** Stop, and remove the JetStream store directory if any. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.storeDir !== undefined) fs.rmSync(this.storeDir, { recursive: true, force: true });
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  logs(): string {
    return this.logBuf;
  }

  private async launch(timeoutMs = 10000): Promise<void> {
    const bin = natsServerBinary();
    if (!fs.existsSync(bin)) throw new Error(`nats-server not found at ${bin} (run .ci/setup, or set NATS_SERVER_BIN)`);
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.storeDir !== undefined) args.push('-js', '--store_dir', this.storeDir);
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc = proc;
    if (proc.pid !== undefined) register(proc.pid);
    const onData = (d: Buffer): void => {
      this.logBuf = (this.logBuf + d.toString('utf8')).slice(-LOG_LIMIT);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exited = new Promise<void>((resolve) => {
      proc.on('exit', () => resolve());
      proc.on('error', (e) => {
        this.logBuf += `\n[harness] spawn error: ${e.message}\n`;
        resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    let last = 'not started';
    while (Date.now() < deadline) {
      if (!this.running) break;
      try {
        const nc = await RawNats.connect(this.port, 1000);
        await nc.close();
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(50);
    }
    await this.kill9();
    throw new Error(`nats-server not ready on ${this.port}: ${last}\n--- log ---\n${this.logBuf}`);
  }

  private killGroupSync(sig: NodeJS.Signals): void {
    const pid = this.proc?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // group already gone
    }
  }

  private async waitExit(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        t = setTimeout(() => resolve(false), ms);
      }),
    ]);
    if (t) clearTimeout(t);
    return r;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.proc === undefined) return;
    if (this.running) {
      this.killGroupSync('SIGTERM');
      if (!(await this.waitExit(graceMs))) {
        this.killGroupSync('SIGKILL');
        await this.waitExit(5000);
      }
    }
    if (this.proc.pid !== undefined) unregister(this.proc.pid);
  }

  async kill9(): Promise<void> {
    if (this.proc === undefined) return;
    this.killGroupSync('SIGKILL');
    await this.waitExit(5000);
    if (this.proc.pid !== undefined) unregister(this.proc.pid);
  }

  /** Start again on the same port (stopping first if it runs). */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    this.logBuf += '\n[harness] ---- restart ----\n';
    let lastErr: Error | undefined;
    for (let i = 0; i < 3; i++) {
      try {
        await this.launch();
        return;
      } catch (e) {
        lastErr = e as Error;
        await sleep(300);
      }
    }
    throw lastErr;
  }
}
