//! A tiny protobuf (proto3) encoder/decoder for the STAN messages the tests
//! send by hand over a raw NATS connection. Independent of the client library.

export type Field =
  | { no: number; kind: 'varint'; value: number | bigint }
  | { no: number; kind: 'bytes'; value: Buffer | string };

function varint(v: number | bigint): Buffer {
  let n = BigInt(v);
  if (n < 0n) n = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) b |= 0x80;
    out.push(b);
  } while (n !== 0n);
  return Buffer.from(out);
}

export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (f.kind === 'varint') {
      parts.push(varint((f.no << 3) | 0), varint(f.value));
    } else {
      const b = typeof f.value === 'string' ? Buffer.from(f.value, 'utf8') : f.value;
      parts.push(varint((f.no << 3) | 2), varint(b.length), b);
    }
  }
  return Buffer.concat(parts);
}

export const str = (no: number, value: string): Field => ({ no, kind: 'bytes', value });
export const bytes = (no: number, value: Buffer): Field => ({ no, kind: 'bytes', value });
export const int = (no: number, value: number | bigint): Field => ({ no, kind: 'varint', value });

/** Decoded message: field number -> list of raw values (varints as bigint, length-delimited as Buffer). */
export type Decoded = Map<number, Array<bigint | Buffer>>;

export function decode(buf: Buffer): Decoded {
  const out: Decoded = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let shift = 0n;
    let v = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const no = key >> 3;
    const wt = key & 7;
    let val: bigint | Buffer;
    if (wt === 0) val = readVarint();
    else if (wt === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('truncated field');
      val = buf.subarray(i, i + len);
      i += len;
    } else if (wt === 1) {
      val = buf.subarray(i, i + 8);
      i += 8;
    } else if (wt === 5) {
      val = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`unsupported wire type ${wt}`);
    const list = out.get(no) ?? [];
    list.push(val);
    out.set(no, list);
  }
  return out;
}

export function getString(d: Decoded, no: number): string {
  const v = d.get(no);
  if (v === undefined || v.length === 0) return '';
  const last = v[v.length - 1];
  return Buffer.isBuffer(last) ? last.toString('utf8') : '';
}

export function getInt(d: Decoded, no: number): number {
  const v = d.get(no);
  if (v === undefined || v.length === 0) return 0;
  const last = v[v.length - 1];
  return typeof last === 'bigint' ? Number(last) : 0;
}

// ---- STAN messages used by the tests (field numbers from the wire spec) ----

export interface ConnectResponse {
  pubPrefix: string;
  subRequests: string;
  unsubRequests: string;
  closeRequests: string;
  error: string;
  subCloseRequests: string;
  pingRequests: string;
  pingInterval: number;
  pingMaxOut: number;
  protocol: number;
}

export function connectRequest(o: {
  clientID: string;
  heartbeatInbox: string;
  connID: Buffer;
  pingInterval?: number;
  pingMaxOut?: number;
}): Buffer {
  return encode([
    str(1, o.clientID),
    str(2, o.heartbeatInbox),
    int(3, 1),
    bytes(4, o.connID),
    int(5, o.pingInterval ?? 5),
    int(6, o.pingMaxOut ?? 3),
  ]);
}

export function decodeConnectResponse(buf: Buffer): ConnectResponse {
  const d = decode(buf);
  return {
    pubPrefix: getString(d, 1),
    subRequests: getString(d, 2),
    unsubRequests: getString(d, 3),
    closeRequests: getString(d, 4),
    error: getString(d, 5),
    subCloseRequests: getString(d, 6),
    pingRequests: getString(d, 7),
    pingInterval: getInt(d, 8),
    pingMaxOut: getInt(d, 9),
    protocol: getInt(d, 10),
  };
}

export function pubMsg(o: { clientID: string; guid: string; subject: string; data: Buffer; connID: Buffer }): Buffer {
  return encode([str(1, o.clientID), str(2, o.guid), str(3, o.subject), bytes(5, o.data), bytes(6, o.connID)]);
}

/** PubAck: guid (1), error (2). */
export function decodePubAck(buf: Buffer): { guid: string; error: string } {
  const d = decode(buf);
  return { guid: getString(d, 1), error: getString(d, 2) };
}

/** SubscriptionResponse: ackInbox (2), error (3). */
export function decodeSubscriptionResponse(buf: Buffer): { ackInbox: string; error: string } {
  const d = decode(buf);
  return { ackInbox: getString(d, 2), error: getString(d, 3) };
}

/** CloseResponse / PingResponse: error (1). */
export function decodeErrorOnly(buf: Buffer): { error: string } {
  return { error: getString(decode(buf), 1) };
}

export function subscriptionRequest(o: {
  clientID: string;
  subject: string;
  qGroup?: string;
  inbox: string;
  maxInFlight?: number;
  ackWaitInSecs?: number;
  durableName?: string;
  startPosition?: number;
  startSequence?: number;
  startTimeDelta?: number;
}): Buffer {
  const f: Field[] = [str(1, o.clientID), str(2, o.subject)];
  if (o.qGroup) f.push(str(3, o.qGroup));
  f.push(str(4, o.inbox), int(5, o.maxInFlight ?? 1024), int(6, o.ackWaitInSecs ?? 30));
  if (o.durableName) f.push(str(7, o.durableName));
  if (o.startPosition) f.push(int(10, o.startPosition));
  if (o.startSequence) f.push(int(11, o.startSequence));
  if (o.startTimeDelta) f.push(int(12, o.startTimeDelta));
  return encode(f);
}

/** UnsubscribeRequest (to unsubRequests or subCloseRequests). */
export function unsubscribeRequest(o: { clientID: string; subject: string; inbox: string; durableName?: string }): Buffer {
  const f: Field[] = [str(1, o.clientID), str(2, o.subject), str(3, o.inbox)];
  if (o.durableName) f.push(str(4, o.durableName));
  return encode(f);
}

export function closeRequest(clientID: string): Buffer {
  return encode([str(1, clientID)]);
}

export function ping(connID: Buffer): Buffer {
  return encode([bytes(1, connID)]);
}
