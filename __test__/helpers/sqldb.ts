//! The SQL store under the conformance suite: `STAN_STORE=sql-postgres` or
//! `STAN_STORE=sql-mysql` makes every server the harness starts without an
//! explicit store (`store: 'FILE'` stays a file store) use `-st SQL` on a
//! fresh database of its own, on the original server's schema
//! (`crates/stan-testkit/sql/*.db.sql`).
//!
//! Jest's globalSetup starts one PostgreSQL or MariaDB server for the run, in
//! a temporary directory on a free loopback port (PostgreSQL as the
//! `postgres` user when running as root: it refuses root), in a process group
//! listed in the harness registry; the globalTeardown stops it and removes
//! its directory. Each StanServer then gets `CREATE DATABASE` + the schema.

import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { register, unregister } from './registry';

export type SqlKind = 'postgres' | 'mysql';

const ROOT = path.resolve(__dirname, '..', '..');

/** The SQL store selected by `STAN_STORE`, or undefined for the default (memory). */
export function sqlStore(): SqlKind | undefined {
  const v = (process.env.STAN_STORE ?? '').toLowerCase();
  if (v === '' || v === 'memory' || v === 'default' || v === 'jetstream') return undefined;
  if (v === 'sql-postgres') return 'postgres';
  if (v === 'sql-mysql') return 'mysql';
  throw new Error(`STAN_STORE must be memory, jetstream, sql-postgres or sql-mysql, got '${v}'`);
}

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base)
    ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', name))).sort((a, b) => Number(a) - Number(b))
    : [];
  return versions.length > 0 ? path.join(base, versions[versions.length - 1], 'bin', name) : name;
}

function sbin(name: string): string {
  for (const d of ['/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    if (fs.existsSync(path.join(d, name))) return path.join(d, name);
  }
  return name;
}

/** uid/gid of `user` from /etc/passwd. */
function userIds(user: string): { uid: number; gid: number } | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length > 3) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function schema(kind: SqlKind): string[] {
  const file = path.join(ROOT, 'crates', 'stan-testkit', 'sql', kind === 'postgres' ? 'postgres.db.sql' : 'mysql.db.sql');
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

function psql(port: number, db: string, sql: string): string {
  return execFileSync(pgBin('psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'nss', '-d', db, '-c', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

function mysql(socket: string, db: string | undefined, sql: string): string {
  const args = ['--no-defaults', `--socket=${socket}`, '-u', 'root', '-N', '-B'];
  if (db !== undefined) args.push(db);
  args.push('-e', sql);
  return execFileSync(sbin('mariadb'), args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Poll `ok` (synchronously) for up to `ms`. */
function waitSync(what: string, ms: number, ok: () => boolean, proc: ChildProcess, log: string): void {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (ok()) return;
    } catch {
      // not yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      throw new Error(`${what} did not start:\n${text}`);
    }
    sleepSync(100);
  }
}

/**
 * Start the database server for this Jest run (globalSetup) and export where
 * it is in STAN_SQL_* variables; the test workers inherit them.
 */
export function startSqlServer(kind: SqlKind, port: number): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-jest-sql-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  const out = fs.openSync(log, 'a');
  let proc: ChildProcess;
  if (kind === 'postgres') {
    const ids = process.getuid?.() === 0 ? (userIds('postgres') ?? userIds('nobody')) : undefined;
    if (ids !== undefined) fs.chownSync(dir, ids.uid, ids.gid);
    const as = ids === undefined ? {} : { uid: ids.uid, gid: ids.gid, env: { ...process.env, HOME: dir } };
    execFileSync(pgBin('initdb'), ['-A', 'trust', '-U', 'nss', '--no-sync', '-E', 'UTF8', '-D', data], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...as,
    });
    const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200'];
    proc = spawn(pgBin('postgres'), args, { cwd: dir, stdio: ['ignore', out, out], detached: true, ...as });
    if (proc.pid !== undefined) register(proc.pid);
    waitSync('postgres', 60000, () => psql(port, 'postgres', 'SELECT 1').trim() === '1', proc, log);
  } else {
    const root = process.getuid?.() === 0 ? ['--user=root'] : [];
    // Its own temp dir: never /tmp's `#sql-temptable-*` files of another MariaDB.
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    execFileSync(sbin('mariadb-install-db'), ['--no-defaults', `--datadir=${data}`, '--skip-test-db', `--tmpdir=${tmp}`, ...root], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const socket = path.join(dir, 'mariadb.sock');
    const args = [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mariadb.pid')}`,
      `--tmpdir=${tmp}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-log-bin',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-connections=300',
      ...root,
    ];
    proc = spawn(sbin('mariadbd'), args, { stdio: ['ignore', out, out], detached: true });
    if (proc.pid !== undefined) register(proc.pid);
    waitSync('mariadbd', 60000, () => mysql(socket, undefined, 'SELECT 1').trim() === '1', proc, log);
    mysql(socket, undefined, "CREATE USER 'nss'@'%' IDENTIFIED BY 'nss'; GRANT ALL ON *.* TO 'nss'@'%'; FLUSH PRIVILEGES;");
    process.env.STAN_SQL_SOCKET = socket;
  }
  proc.unref();
  process.env.STAN_SQL_KIND = kind;
  process.env.STAN_SQL_PORT = String(port);
  process.env.STAN_SQL_DIR = dir;
  process.env.STAN_SQL_PID = String(proc.pid);
}

/** Stop the run's database server (globalTeardown) and remove its directory. */
export function stopSqlServer(): void {
  const pid = Number(process.env.STAN_SQL_PID ?? '0');
  if (pid > 0) {
    unregister(pid);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const dir = process.env.STAN_SQL_DIR;
  if (dir !== undefined) {
    sleepSync(200);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let dbCounter = 0;

/**
 * A fresh database with the original's schema; returns the server flags
 * selecting it (`-st SQL --sql_driver ... --sql_source ...`).
 */
export function freshDatabaseArgs(kind: SqlKind): string[] {
  const port = Number(process.env.STAN_SQL_PORT ?? '0');
  if (port === 0 || process.env.STAN_SQL_KIND !== kind) {
    throw new Error(`STAN_STORE=sql-${kind}: the database server was not started by the Jest globalSetup`);
  }
  dbCounter += 1;
  const name = `nss_${process.pid}_${Date.now()}_${dbCounter}`;
  if (kind === 'postgres') {
    psql(port, 'postgres', `CREATE DATABASE ${name}`);
    for (const stmt of schema(kind)) psql(port, name, stmt);
    return ['-st', 'SQL', '--sql_driver', 'postgres', '--sql_source', `host=127.0.0.1 port=${port} user=nss dbname=${name} sslmode=disable`];
  }
  const socket = process.env.STAN_SQL_SOCKET as string;
  mysql(socket, undefined, `CREATE DATABASE ${name}`);
  mysql(socket, name, schema(kind).join('\n'));
  return ['-st', 'SQL', '--sql_driver', 'mysql', '--sql_source', `nss:nss@tcp(127.0.0.1:${port})/${name}`];
}
