//! A raw NATS core client over a TCP socket (the text protocol, by hand), for
//! tests that must send what no well-behaved client would: garbage payloads,
//! floods, or a client that stops answering heartbeats.

import * as crypto from 'crypto';
import * as net from 'net';
import * as proto from './proto';

export interface RawMsg {
  subject: string;
  sid: number;
  reply: string | undefined;
  data: Buffer;
}

type Handler = (m: RawMsg) => void;

export function randomInbox(prefix = '_INBOX'): string {
  return `${prefix}.${crypto.randomBytes(11).toString('hex')}`;
}

/** Credentials of the CONNECT line (NATS protocol field names). */
export interface RawAuth {
  user?: string;
  pass?: string;
  auth_token?: string;
}

export class RawNats {
  readonly sock: net.Socket;
  info: Record<string, unknown> = {};
  readonly errors: string[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private nextSid = 1;
  private readonly handlers = new Map<number, Handler>();
  private pongWaiters: Array<() => void> = [];
  private closed = false;
  private closeWaiters: Array<() => void> = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    // Small request/reply writes: no Nagle delay.
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.parse();
    });
    const onClose = (): void => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
    };
    sock.on('close', onClose);
    sock.on('error', (e) => this.errors.push(`socket: ${e.message}`));
  }

  /** Connect, read INFO, send CONNECT (with `auth`'s credentials, if any) and wait for the first PONG. */
  static connect(port: number, timeoutMs = 3000, host = '127.0.0.1', auth: RawAuth = {}): Promise<RawNats> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ port, host });
      const nc = new RawNats(sock);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`raw NATS connect to ${host}:${port} timed out`));
      }, timeoutMs);
      sock.once('error', (e) => {
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      });
      sock.once('connect', () => {
        nc.write(
          'CONNECT ' +
            JSON.stringify({
              verbose: false,
              pedantic: false,
              protocol: 1,
              name: 'raw-test',
              lang: 'raw',
              version: '0.0.0',
              ...auth,
            }) +
            '\r\n',
        );
        nc.pongWaiters.push(() => {
          clearTimeout(timer);
          resolve(nc);
        });
        nc.write('PING\r\n');
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get maxPayload(): number {
    const v = this.info.max_payload;
    return typeof v === 'number' ? v : 1024 * 1024;
  }

  private write(s: string | Buffer): void {
    if (!this.closed && !this.sock.destroyed) this.sock.write(s);
  }

  private parse(): void {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString('utf8');
      const op = line.split(' ', 1)[0].toUpperCase();
      if (op === 'MSG') {
        // MSG <subject> <sid> [reply] <#bytes>
        const parts = line.split(' ').filter((p) => p.length > 0);
        const size = Number(parts[parts.length - 1]);
        const need = eol + 2 + size + 2;
        if (this.buf.length < need) return;
        const data = Buffer.from(this.buf.subarray(eol + 2, eol + 2 + size));
        this.buf = this.buf.subarray(need);
        const msg: RawMsg = {
          subject: parts[1],
          sid: Number(parts[2]),
          reply: parts.length === 5 ? parts[3] : undefined,
          data,
        };
        const h = this.handlers.get(msg.sid);
        if (h) h(msg);
        continue;
      }
      this.buf = this.buf.subarray(eol + 2);
      if (op === 'PING') this.write('PONG\r\n');
      else if (op === 'PONG') {
        const w = this.pongWaiters.shift();
        if (w) w();
      } else if (op === 'INFO') {
        try {
          this.info = JSON.parse(line.slice(5)) as Record<string, unknown>;
        } catch {
          this.errors.push(`bad INFO: ${line}`);
        }
      } else if (op === '-ERR') this.errors.push(line);
    }
  }

  subscribe(subject: string, handler: Handler): number {
    const sid = this.nextSid++;
    this.handlers.set(sid, handler);
    this.write(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  unsubscribe(sid: number): void {
    this.handlers.delete(sid);
    this.write(`UNSUB ${sid}\r\n`);
  }

  publish(subject: string, data: Buffer = Buffer.alloc(0), reply?: string): void {
    const head = reply ? `PUB ${subject} ${reply} ${data.length}\r\n` : `PUB ${subject} ${data.length}\r\n`;
    this.write(Buffer.concat([Buffer.from(head), data, Buffer.from('\r\n')]));
  }

  /** Write raw protocol bytes (for malformed-protocol tests). */
  writeRaw(s: string | Buffer): void {
    this.write(s);
  }

  /** PING/PONG round trip: everything written before has been processed by the NATS server. */
  flush(timeoutMs = 3000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('raw NATS connection closed'));
        return;
      }
      const timer = setTimeout(() => reject(new Error('flush timed out')), timeoutMs);
      this.pongWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.write('PING\r\n');
    });
  }

  /** Request/reply with a fresh inbox; rejects on timeout. */
  request(subject: string, data: Buffer, timeoutMs = 2000): Promise<RawMsg> {
    return new Promise((resolve, reject) => {
      const inbox = randomInbox();
      let sid = 0;
      const timer = setTimeout(() => {
        this.unsubscribe(sid);
        reject(new Error(`request on ${subject} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sid = this.subscribe(inbox, (m) => {
        clearTimeout(timer);
        this.unsubscribe(sid);
        resolve(m);
      });
      this.publish(subject, data, inbox);
    });
  }

  /** Close the socket and wait (bounded) until it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sock.destroy();
        resolve();
      }, 1000);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.sock.end();
      this.sock.destroy();
    });
  }
}


/** A STAN client spoken by hand over a raw NATS connection. */
export interface RawStanSession {
  nc: RawNats;
  clientID: string;
  connID: Buffer;
  hbInbox: string;
  /** Heartbeat requests seen so far (never answered unless `answerHeartbeats`). */
  heartbeats: number;
  resp: proto.ConnectResponse;
}

/**
 * Register a STAN client by hand: SUB a heartbeat inbox, send a ConnectRequest.
 * With `answerHeartbeats: false` the client is "frozen": it never replies.
 */
export async function rawStanConnect(
  port: number,
  clusterID: string,
  clientID: string,
  answerHeartbeats: boolean,
): Promise<RawStanSession> {
  const nc = await RawNats.connect(port);
  const hbInbox = randomInbox();
  const session: RawStanSession = {
    nc,
    clientID,
    connID: Buffer.from(crypto.randomBytes(11).toString('hex')),
    hbInbox,
    heartbeats: 0,
    resp: undefined as unknown as proto.ConnectResponse,
  };
  nc.subscribe(hbInbox, (m) => {
    session.heartbeats++;
    if (answerHeartbeats && m.reply) nc.publish(m.reply);
  });
  const reply = await nc.request(
    `_STAN.discover.${clusterID}`,
    proto.connectRequest({ clientID, heartbeatInbox: hbInbox, connID: session.connID }),
    3000,
  );
  session.resp = proto.decodeConnectResponse(reply.data);
  return session;
}
