// GET requests to the API server with the credentials of a KubeConfig (token, client
// certificate, CA, proxy: whatever its applyToHTTPSOptions sets). Our own rather than the
// library's Watch because a watch must be abortable while it connects (stop() during a
// slow connect), must ask for bookmarks, and a refused request should say why (the Status
// body names the missing RBAC verb, for one).
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** A failed request; statusCode is the HTTP status or the Status code of a watch ERROR event
 * (ListWatch relists on 410 from either), null when no answer came. */
export class ApiError extends Error {
  constructor(message: string, readonly statusCode: number | null) {
    super(message);
  }
}

/** A Kubernetes Status object (a refused request's body, a watch ERROR event's object). */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

export function statusError(s: KubeStatus, fallback: number | null): ApiError {
  const code = s.code ?? fallback;
  const what = [code, s.reason].filter((x) => x !== undefined && x !== null).join(' ');
  return new ApiError(`${what}${s.message ? `: ${s.message}` : ''}`, code);
}

/** Bodies of refused requests are read up to this much; a Status is a few hundred bytes. */
const ERROR_BODY_LIMIT = 64 * 1024;

export class KubeHttp {
  constructor(private readonly kc: KubeConfig) {}

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
  }

  /** Opens GET path?query; resolves with the response once its status is 200, else rejects
   * with an ApiError carrying the Status message. */
  async open(path: string, query: Readonly<Record<string, string>>, signal: AbortSignal): Promise<http.IncomingMessage> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { method: 'GET', signal };
    await this.kc.applyToHTTPSOptions(opts);
    opts.headers = { ...opts.headers, accept: 'application/json' };
    const res = await request(url, opts);
    if (res.statusCode !== 200) throw await refused(res);
    return res;
  }

  async getJson<T>(path: string, query: Readonly<Record<string, string>>, signal: AbortSignal): Promise<T> {
    const res = await this.open(path, query, signal);
    return JSON.parse(await readAll(res, Infinity)) as T;
  }
}

/** An API server that accepts the connection but never answers must not stall a kind forever. */
const ANSWER_TIMEOUT_MS = 30_000;
/** A watch can be silent for minutes; TCP keepalive is what notices a peer that vanished
 * (a rebooted API server, a dropped NAT entry) so that the watch reconnects. */
const KEEPALIVE_MS = 30_000;

function request(url: URL, opts: https.RequestOptions): Promise<http.IncomingMessage> {
  const send = url.protocol === 'http:' ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = send(url, opts, (res) => {
      clearTimeout(timer);
      res.socket?.setKeepAlive(true, KEEPALIVE_MS);
      resolve(res);
    });
    const timer = setTimeout(() => req.destroy(new ApiError(`no answer from ${url.host} within ${ANSWER_TIMEOUT_MS / 1000} s`, null)), ANSWER_TIMEOUT_MS);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}

async function refused(res: http.IncomingMessage): Promise<ApiError> {
  const status = res.statusCode ?? null;
  const body = await readAll(res, ERROR_BODY_LIMIT).catch(() => '');
  try {
    return statusError(JSON.parse(body) as KubeStatus, status);
  } catch {
    return new ApiError(`${status} ${http.STATUS_CODES[status ?? 0] ?? ''}`.trim(), status);
  }
}

function readAll(res: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
