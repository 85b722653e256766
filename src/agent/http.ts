// The agent's HTTP endpoint: /metrics (Prometheus text), /healthz (the process serves: liveness),
// /readyz (200 when the desired policy is enforced; 503 with the reason otherwise: a policy
// error at file:line:col, the verifier's lines, an unreachable source).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prometheusContentType } from 'prom-client';

export interface HealthSources {
  metrics(): Promise<string>;
  ready(): { readonly ready: boolean; readonly reason: string };
}

export async function startHttp(listen: string, h: HealthSources): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'GET only\n');
    if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      const r = h.ready();
      return send(r.ready ? 200 : 503, 'text/plain', `${r.ready ? 'ready' : 'not ready'}: ${r.reason}\n`);
    }
    if (path === '/metrics') {
      h.metrics().then((text) => send(200, prometheusContentType, text), (e: Error) => send(500, 'text/plain', `${e.message}\n`));
      return;
    }
    send(404, 'text/plain', 'not found: /metrics, /healthz, /readyz\n');
  });
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** "host:port", ":port" or "port"; IPv6 as "[::1]:port". */
export function parseListen(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new Error(`listen address "${text}": expected host:port, :port or port (e.g. 0.0.0.0:9962)`);
  return { host: m[1] || m[2] || undefined, port };
}
