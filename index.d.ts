// Type definitions for stan-rs: the node-nats-streaming API (0.3.2, with the
// master-branch fixes: connect() accepts a URL or a port, getRedeliveryCount,
// NewSubscriptionOptions, isClosed). No dependency on nats v1's typings.

/// <reference types="node" />

import events = require('events');
import * as tls from 'tls';

/** This package's version. */
export const version: string;

/**
 * Connect to a NATS Streaming server. `opts` is an options object, a server
 * URL (`'nats://host:4222'`, `'localhost:4223'`, ...) or a port on localhost.
 */
export function connect(clusterID: string, clientID: string, opts?: StanOptions | string | number): Stan;
/** Beyond node-nats-streaming: resolves to the connected Stan on 'connect', rejects with the first 'error'. */
export function connectAsync(clusterID: string, clientID: string, opts?: StanOptions | string | number): Promise<Stan>;

/** Fresh subscription options with the defaults. */
export function NewSubscriptionOptions(): SubscriptionOptions;

export interface StanOptions extends ClientOpts {
    url?: string;
    /** Shorthand for `url: 'nats://localhost:<port>'`. */
    port?: number;
    connectTimeout?: number;
    ackTimeout?: number;
    discoverPrefix?: string;
    maxPubAcksInflight?: number;
    stanEncoding?: string;
    stanMaxPingOut?: number;
    stanPingInterval?: number;
    /** Not supported: connect() throws when it is set. */
    nc?: unknown;
    /** Parse the options without connecting (node-nats-streaming's test hook). */
    test_opts?: boolean;
}

/** NATS connection options (nats.js v1 names). */
export interface ClientOpts {
    encoding?: BufferEncoding;
    maxPingOut?: number;
    maxReconnectAttempts?: number;
    name?: string;
    nkey?: string;
    noRandomize?: boolean;
    nonceSigner?: Function;
    pass?: string;
    pedantic?: boolean;
    pingInterval?: number;
    reconnect?: boolean;
    reconnectTimeWait?: number;
    servers?: Array<string>;
    tls?: boolean | tls.TlsOptions;
    token?: string;
    tokenHandler?: Function;
    url?: string;
    useOldRequestStyle?: boolean;
    user?: string;
    userCreds?: string;
    userJWT?: string | Function;
    verbose?: boolean;
    waitOnFirstConnect?: boolean;
    yieldTime?: number;
    timeout?: number;
}

/** Errors raised by this package carry a stable `code`. */
export interface StanError extends Error {
    code?: string;
}

export declare class Message {
    /** The channel. */
    getSubject(): string;
    /** The message's sequence number in its channel. */
    getSequence(): number;
    /** The payload. */
    getRawData(): Buffer;
    /**
     * The payload as a UTF-8 string, or with `stanEncoding: 'binary'` its bytes
     * (a Uint8Array at run time).
     */
    getData(): string | Buffer;
    /** The server's timestamp in nanoseconds (precision is lost above 2^53). */
    getTimestampRaw(): number;
    /** The server's timestamp as a Date. */
    getTimestamp(): Date;
    /** True if this is a redelivery. */
    isRedelivered(): boolean;
    /** How many times it was redelivered. */
    getRedeliveryCount(): number;
    /** The optional CRC32 (always 0 from current servers). */
    getCrc32(): number;
    /** Acknowledge the message (needed in manual-ack mode). */
    ack(): void;
}

export declare class Subscription extends events.EventEmitter {
    /** The channel. */
    readonly subject: string;
    /** The queue group, if any. */
    readonly qGroup: string | undefined;
    /** True once unsubscribe() or close() was called. */
    isClosed(): boolean;
    /** Remove the subscription on the server (a durable is deleted). */
    unsubscribe(): void;
    /** Close the subscription (a durable is kept, offline). */
    close(): void;

    /** Beyond node-nats-streaming: `for await (const msg of sub)`; ends after 'unsubscribed'/'closed', throws the first 'error'. */
    [Symbol.asyncIterator](): AsyncIterableIterator<Message>;

    on(event: 'ready' | 'unsubscribed' | 'closed', listener: () => void): this;
    on(event: 'message', listener: (msg: Message) => void): this;
    on(event: 'error' | 'timeout', listener: (err: StanError) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Called once per publish with the server's verdict.
 * @param err undefined if the server stored the message
 * @param guid the guid publish() returned
 */
export interface AckHandlerCallback {
    (err: Error | undefined, guid: string): void;
}

/** A core-NATS message callback (nats.js v1): payload as a UTF-8 string. */
export interface NatsMsgCallback {
    (msg: string | NatsError, reply: string | undefined, subject: string, sid: number): void;
}

/** nats.js v1's error shape. */
export interface NatsError extends Error {
    code: string;
}

/** `sc.nc`: core NATS on the STAN connection's NATS connection (nats.js v1 surface). */
export interface NatsConnection extends events.EventEmitter {
    readonly closed: boolean;
    readonly connected: boolean;
    /** The configured NATS server URLs. */
    readonly servers: string[];
    publish(subject: string, callback?: (err?: NatsError) => void): void;
    publish(subject: string, msg: string | Uint8Array | Buffer, callback?: (err?: NatsError) => void): void;
    publish(subject: string, msg: string | Uint8Array | Buffer | undefined, reply: string, callback?: (err?: NatsError) => void): void;
    subscribe(subject: string, callback: NatsMsgCallback): number;
    subscribe(subject: string, opts: { queue?: string; max?: number }, callback: NatsMsgCallback): number;
    unsubscribe(sid: number, max?: number): void;
    timeout(sid: number, timeout: number, expected: number, callback: (sid: number) => void): void;
    request(subject: string, callback: NatsMsgCallback): number;
    request(subject: string, msg: string | Uint8Array | Buffer | undefined, callback: NatsMsgCallback): number;
    request(subject: string, msg: string | Uint8Array | Buffer | undefined, opts: { max?: number; timeout?: number }, callback: NatsMsgCallback): number;
    requestOne(subject: string, msg: string | Uint8Array | Buffer | undefined, timeout: number, callback: NatsMsgCallback): number;
    requestOne(subject: string, msg: string | Uint8Array | Buffer | undefined, opts: { max?: number }, timeout: number, callback: NatsMsgCallback): number;
    flush(callback?: (err?: NatsError) => void): void;
    /** Closes the STAN connection (there is one connection). */
    close(): void;
    createInbox(): string;
    on(event: 'connect' | 'reconnect', listener: (nc: NatsConnection) => void): this;
    on(event: 'disconnect' | 'reconnecting' | 'close', listener: () => void): this;
    on(event: 'error', listener: (err: NatsError) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare class Stan extends events.EventEmitter {
    readonly clusterID: string;
    readonly clientID: string;
    /** The underlying NATS connection, for core-NATS traffic beside STAN. */
    readonly nc: NatsConnection;
    /** Close the connection. */
    close(): void;
    /** True once close() was called or the connection ended. */
    isClosed(): boolean;
    /**
     * Publish `data` on channel `subject`; returns the message's guid.
     * Errors (closed connection, too many publishes in flight) go to
     * `callback` when given, else they are thrown.
     */
    publish(subject: string, data?: Uint8Array | string | Buffer, callback?: AckHandlerCallback): string;
    /** Subscribe, optionally as a member of queue group `qGroup`. */
    subscribe(subject: string, opts?: SubscriptionOptions): Subscription;
    subscribe(subject: string, qGroup: string, opts?: SubscriptionOptions): Subscription;
    /** Subscription options with the defaults. */
    /** Beyond node-nats-streaming: publish and wait for the ack; resolves to the guid. */
    publishAsync(subject: string, data?: Uint8Array | string | Buffer): Promise<string>;
    /** Beyond node-nats-streaming: close() and wait for 'close'. */
    closeAsync(): Promise<void>;
    subscriptionOptions(): SubscriptionOptions;

    on(event: 'connect' | 'reconnect', listener: (stan: Stan) => void): this;
    on(event: 'close', listener: (err?: StanError | null) => void): this;
    on(event: 'disconnect' | 'reconnecting', listener: () => void): this;
    on(event: 'error' | 'connection_lost' | 'permission_error', listener: (err: StanError) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare enum StartPosition {
    NEW_ONLY = 0,
    LAST_RECEIVED,
    TIME_DELTA_START,
    SEQUENCE_START,
    FIRST
}

export declare interface SubscriptionOptions {
    durableName?: string;
    maxInFlight?: number;
    ackWait?: number;
    startPosition: StartPosition;
    startSequence?: number;
    startTime?: number;
    manualAcks?: boolean;

    /** Most unacknowledged messages the server sends (default 16384). */
    setMaxInFlight(n: number): SubscriptionOptions;
    /** Redelivery delay in ms, a whole number of seconds (default 30000). */
    setAckWait(millis: number): SubscriptionOptions;
    /** Start position (StartPosition.NEW_ONLY, LAST_RECEIVED, FIRST, ...). */
    setStartAt(startPosition: StartPosition): SubscriptionOptions;
    /** Start at this sequence number. */
    setStartAtSequence(sequence: number): SubscriptionOptions;
    /** Start with messages stored since `date` (computed now). */
    setStartTime(date: Date): SubscriptionOptions;
    /** Start with messages stored at most `millis` ago. */
    setStartAtTimeDelta(millis: number): SubscriptionOptions;
    /** Start with the last stored message. */
    setStartWithLastReceived(): SubscriptionOptions;
    /** Start with every stored message. */
    setDeliverAllAvailable(): SubscriptionOptions;
    /** Ack by hand with Message#ack(). */
    setManualAckMode(tf: boolean): SubscriptionOptions;
    /** Make the subscription durable under this name. */
    setDurableName(durableName: string): SubscriptionOptions;
}
