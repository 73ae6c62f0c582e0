// Type definitions for the browser build of stan-rs: node-nats-streaming's
// API (with the master-branch fixes) over a NATS WebSocket, plus init().

/** Load the wasm module; call (and await) once before connect(). */
export function init(input?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<void>;
/** True once init() finished. */
export function isInitialized(): boolean;

/** This package's version. */
export const version: string;

/**
 * Connect to a NATS Streaming server through a nats-server WebSocket
 * listener. `opts` is an options object, a URL (`'ws://host:8080'`; `nats://`
 * and `http://` map to `ws://`, `tls://` and `https://` to `wss://`) or a
 * port on localhost. Throws `NOT_INITIALIZED` before init() resolved.
 */
export function connect(clusterID: string, clientID: string, opts?: StanOptions | string | number): Stan;
/** Beyond node-nats-streaming: resolves to the connected Stan on 'connect', rejects with the first 'error'. */
export function connectAsync(clusterID: string, clientID: string, opts?: StanOptions | string | number): Promise<Stan>;

/** Fresh subscription options with the defaults. */
export function NewSubscriptionOptions(): SubscriptionOptions;

export interface StanOptions {
    /** WebSocket URL of the nats-server (`ws://` or `wss://`). */
    url?: string;
    uri?: string;
    /** Shorthand for `url: 'ws://localhost:<port>'`. */
    port?: number;
    /** Only the first entry is used when no `url` is given (no reconnect in the browser). */
    servers?: string[];
    connectTimeout?: number;
    ackTimeout?: number;
    discoverPrefix?: string;
    maxPubAcksInflight?: number;
    /** `'binary'`: getData() returns the bytes; anything else: a UTF-8 string. */
    stanEncoding?: string;
    stanMaxPingOut?: number;
    stanPingInterval?: number;
    user?: string;
    pass?: string;
    password?: string;
    token?: string;
    tokenHandler?: () => string;
    name?: string;
    /** `true` forces `wss://`. */
    tls?: boolean;
    encoding?: 'binary';
    /** Parse the options without connecting. */
    test_opts?: boolean;
    [option: string]: unknown;
}

/** Errors raised by this package carry a stable `code`. */
export interface StanError extends Error {
    code?: string;
}

type Listener = (...args: any[]) => void;

/** The EventEmitter subset the classes implement. */
export declare class Emitter {
    on(event: string, listener: Listener): this;
    addListener(event: string, listener: Listener): this;
    once(event: string, listener: Listener): this;
    off(event: string, listener: Listener): this;
    removeListener(event: string, listener: Listener): this;
    removeAllListeners(event?: string): this;
    listeners(event: string): Listener[];
    listenerCount(event: string): number;
    emit(event: string, ...args: any[]): boolean;
}

export declare class Message {
    getSubject(): string;
    getSequence(): number;
    /** The payload bytes. */
    getRawData(): Uint8Array;
    /** UTF-8 text, or with `stanEncoding: 'binary'` the bytes. */
    getData(): string | Uint8Array;
    /** Server timestamp in ns (precision lost above 2^53). */
    getTimestampRaw(): number;
    getTimestamp(): Date;
    isRedelivered(): boolean;
    getRedeliveryCount(): number;
    getCrc32(): number;
    /** Acknowledge (needed in manual-ack mode). */
    ack(): void;
}

export declare class Subscription extends Emitter {
    readonly subject: string;
    readonly qGroup: string | undefined;
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
    on(event: string, listener: Listener): this;
}

export interface AckHandlerCallback {
    (err: StanError | undefined, guid: string): void;
}

export declare class Stan extends Emitter {
    readonly clusterID: string;
    readonly clientID: string;
    close(): void;
    isClosed(): boolean;
    /** Returns the guid; errors go to `callback` when given, else they are thrown. */
    publish(subject: string, data?: Uint8Array | string, callback?: AckHandlerCallback): string;
    subscribe(subject: string, opts?: SubscriptionOptions): Subscription;
    subscribe(subject: string, qGroup: string, opts?: SubscriptionOptions): Subscription;
    /** Beyond node-nats-streaming: publish and wait for the ack; resolves to the guid. */
    publishAsync(subject: string, data?: Uint8Array | string): Promise<string>;
    /** Beyond node-nats-streaming: close() and wait for 'close'. */
    closeAsync(): Promise<void>;
    subscriptionOptions(): SubscriptionOptions;

    on(event: 'connect', listener: (stan: Stan) => void): this;
    on(event: 'close', listener: (err?: StanError | null) => void): this;
    on(event: 'disconnect', listener: () => void): this;
    on(event: 'error' | 'connection_lost' | 'permission_error', listener: (err: StanError) => void): this;
    on(event: string, listener: Listener): this;
}

export declare const StartPosition: {
    readonly NEW_ONLY: 0;
    readonly LAST_RECEIVED: 1;
    readonly TIME_DELTA_START: 2;
    readonly SEQUENCE_START: 3;
    readonly FIRST: 4;
};
export type StartPosition = (typeof StartPosition)[keyof typeof StartPosition];

export declare class SubscriptionOptions {
    durableName?: string;
    maxInFlight?: number;
    ackWait?: number;
    startPosition?: StartPosition;
    startSequence?: number;
    startTime?: number;
    manualAcks?: boolean;
    setMaxInFlight(n: number): this;
    /** ms, a whole number of seconds. */
    setAckWait(millis: number): this;
    setStartAt(startPosition: StartPosition): this;
    setStartAtSequence(sequence: number): this;
    setStartTime(date: Date): this;
    setStartAtTimeDelta(millis: number): this;
    setStartWithLastReceived(): this;
    setDeliverAllAvailable(): this;
    setManualAckMode(tf: boolean): this;
    setDurableName(durableName: string): this;
}

declare const stan: {
    init: typeof init;
    isInitialized: typeof isInitialized;
    connect: typeof connect;
    NewSubscriptionOptions: typeof NewSubscriptionOptions;
    StartPosition: typeof StartPosition;
    version: string;
};
export default stan;
