// TLS enforced by the server (`--tls --tlscert --tlskey --tlscacert`), the
// same flags on both servers, with a test CA made here (openssl): a
// plaintext NATS client never gets through, a client that does not trust
// the CA is refused, and the reference client trusting the CA (`tls.ca`)
// publishes and subscribes — and so does ours, whose socket is Node's and
// takes the same tls.TlsOptions (with STAN_RS_TRANSPORT=thread, async-nats'
// socket, `tls.ca` throws UNSUPPORTED_OPTION: docs/compat.md).

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CLIENT } from './helpers/client';
import { useServer } from './helpers/fixture';
import { errText, once, publish, subscribe, uid } from './helpers/stan';

/** A CA and a server certificate for 127.0.0.1/localhost, in a fresh temp dir. */
function makePki(): { dir: string; ca: string; cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stan-tls-'));
  const p = (f: string): string => path.join(dir, f);
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', p('ca-key.pem'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=stan test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', ...ec, '-keyout', p('server-key.pem'), '-out', p('server.csr'), '-subj', '/CN=stan test server');
  fs.writeFileSync(
    p('ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-CAcreateserial',
    '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  return { dir, ca: p('ca.pem'), cert: p('server.pem'), key: p('server-key.pem') };
}

const pki = makePki();
afterAll(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

const fx = useServer({
  clusterId: 'tls-test',
  tlsCa: pki.ca,
  // The original's own connection trusts only -tls_client_cacert (ours also --tlscacert).
  extraArgs: ['--tls', '--tlscert', pki.cert, '--tlskey', pki.key, '--tlscacert', pki.ca, '-tls_client_cacert', pki.ca],
});

/** CONNECT + PING in plaintext; everything the server sent until it closed (bounded). */
function plaintext(port: number): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const sock = net.createConnection({ port, host: '127.0.0.1' });
    sock.once('data', (d: Buffer) => {
      out += d.toString('utf8');
      sock.write('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
      sock.on('data', (more: Buffer) => (out += more.toString('latin1')));
    });
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

test('a plaintext client sees tls_required and never gets a PONG', async () => {
  const out = await plaintext(fx.server().port);
  expect(out.startsWith('INFO ')).toBe(true);
  expect(out).toContain('"tls_required":true');
  expect(out).not.toContain('PONG');
});

test('a client that does not trust the test CA is refused', async () => {
  const sc = fx.clients.raw(uid('untrusting'), { tls: true });
  let connected = false;
  sc.on('connect', () => (connected = true));
  const [err] = await once<unknown>(sc, 'error', 10000, 'a TLS error');
  expect(connected).toBe(false);
  expect(errText(err)).toMatch(/certificate|UnknownIssuer|tls/i);
});

test('a client trusting the CA (tls.ca) publishes and subscribes', async () => {
  const tls = { ca: [fs.readFileSync(pki.ca)] };
  if (CLIENT === 'ours' && process.env.STAN_RS_TRANSPORT === 'thread') {
    let thrown: unknown;
    try {
      fx.clients.raw(uid('ca'), { tls });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { code?: string } | undefined)?.code).toBe('UNSUPPORTED_OPTION');
    return;
  }
  const sc = await fx.clients.connect(uid('trusting'), { url: `tls://127.0.0.1:${fx.server().port}`, tls });
  const r = await subscribe(sc, 'tls.orders', undefined, undefined);
  await publish(sc, 'tls.orders', 'over tls');
  const msgs = await r.waitCount(1);
  expect(msgs[0].getData()).toBe('over tls');
});
