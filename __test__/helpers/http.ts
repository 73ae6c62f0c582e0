//! Minimal HTTP GET with a hard timeout, for the monitoring endpoints.

import * as http from 'http';

export interface HttpResult {
  status: number;
  body: string;
  contentType: string | undefined;
}

export function httpGet(url: string, timeoutMs = 3000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: res.headers['content-type'],
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** GET and parse JSON; fails the test if the status is not 200 or the body is not JSON. */
export async function getJson<T = Record<string, unknown>>(url: string, timeoutMs = 3000): Promise<T> {
  const r = await httpGet(url, timeoutMs);
  if (r.status !== 200) throw new Error(`GET ${url}: status ${r.status}: ${r.body}`);
  try {
    return JSON.parse(r.body) as T;
  } catch {
    throw new Error(`GET ${url}: not JSON: ${r.body.slice(0, 200)}`);
  }
}
