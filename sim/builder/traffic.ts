// Synthetic HTTP/1.1 keep-alive traffic for benchmarks: many interleaved connections with
// realistic request heads and responses, streamed to a pcap file (never held in memory).
import { PcapFileWriter } from '../capture/writer.ts';
import { tcpFrame } from './frames.ts';
import { prng } from './prng.ts';
import { TCP_ACK as ACK, TCP_FIN as FIN, TCP_PSH as PSH, TCP_SYN as SYN } from '../decode/view.ts';

export interface TrafficOptions {
  /** Stop after about this many file bytes. */
  readonly targetBytes: number;
  /** Also stop after about this many packets (large benchmark captures are sized by packets). */
  readonly targetPackets?: number;
  /** Largest response body (default 6000; small ones make many packets per MB). */
  readonly maxResponseBytes?: number;
  /**
   * Share of requests sent to a path of their own, `/admin/<n>` (denied by the benchmark's
   * policy): as many distinct denied requests as such requests, for the summary's bounded tables.
   */
  readonly distinctDenied?: number;
  /** Concurrent connections (default 64). */
  readonly concurrency?: number;
  /** Requests per connection before it closes (default 100). */
  readonly requestsPerConn?: number;
  readonly seed?: number;
}

export interface TrafficStats {
  packets: number;
  requests: number;
  connections: number;
  bytes: number;
}

const PATHS = ['/api/v1/users', '/api/v1/orders/12345', '/static/app.js', '/healthz', '/api/v1/search?q=blue+shoes&page=2', '/index.html'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'curl/8.5.0', 'okhttp/4.12.0'];
const MSS = 1448;

interface Flow {
  cip: string; sip: string; cport: number; sport: number;
  cseq: number; sseq: number; left: number;
}

export function generateTraffic(path: string, o: TrafficOptions): TrafficStats {
  const rand = prng(o.seed ?? 1);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)]!;
  const w = new PcapFileWriter(path);
  const st: TrafficStats = { packets: 0, requests: 0, connections: 0, bytes: 0 };
  let ts = 1_700_000_000_000_000_000n;
  const emit = (f: Flow, fromClient: boolean, flags: number, payload: Uint8Array) => {
    const frame = tcpFrame({
      src: fromClient ? f.cip : f.sip, dst: fromClient ? f.sip : f.cip,
      sport: fromClient ? f.cport : f.sport, dport: fromClient ? f.sport : f.cport,
      seq: fromClient ? f.cseq : f.sseq, ack: fromClient ? f.sseq : f.cseq, flags, payload,
    });
    if (fromClient) f.cseq = (f.cseq + payload.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    else f.sseq = (f.sseq + payload.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    ts += 20_000n;
    w.write({ data: frame, ts });
    st.packets++;
  };
  const open = (i: number): Flow => {
    const f: Flow = {
      cip: `10.1.${(i >> 8) & 255}.${i & 255}`, sip: '10.2.0.1', cport: 10000 + (i % 50000), sport: 8080,
      cseq: Math.floor(rand() * 2 ** 32), sseq: Math.floor(rand() * 2 ** 32), left: o.requestsPerConn ?? 100,
    };
    emit(f, true, SYN, new Uint8Array(0));
    emit(f, false, SYN | ACK, new Uint8Array(0));
    emit(f, true, ACK, new Uint8Array(0));
    st.connections++;
    return f;
  };
  const enc = new TextEncoder();
  const flows: Flow[] = [];
  const n = o.concurrency ?? 64;
  let next = 0;
  for (let i = 0; i < n; i++) flows.push(open(next++));
  const maxPackets = o.targetPackets ?? Infinity;
  const maxResponse = o.maxResponseBytes ?? 6000;
  while (w.bytesWritten < o.targetBytes && st.packets < maxPackets) {
    const k = Math.floor(rand() * flows.length);
    const f = flows[k]!;
    const body = rand() < 0.2 ? 'x'.repeat(Math.floor(rand() * 400)) : '';
    const method = body ? 'POST' : 'GET';
    // rand() is drawn for the new options only when they are set: default captures stay as they were
    const path = o.distinctDenied && rand() < o.distinctDenied ? `/admin/${st.requests}` : pick(PATHS);
    const head = `${method} ${path} HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: ${pick(AGENTS)}\r\nAccept: application/json\r\nAccept-Encoding: gzip, deflate\r\nX-Request-Id: ${Math.floor(rand() * 1e12).toString(16)}\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : ''}\r\n`;
    emit(f, true, PSH | ACK, enc.encode(head + body));
    const size = Math.min(maxResponse, rand() < 0.7 ? Math.floor(rand() * 1200) : Math.floor(rand() * 6000));
    const resp = enc.encode(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n${'y'.repeat(size)}`);
    for (let at = 0; at < resp.length; at += MSS) emit(f, false, PSH | ACK, resp.subarray(at, Math.min(resp.length, at + MSS)));
    emit(f, true, ACK, new Uint8Array(0));
    st.requests++;
    if (--f.left === 0) {
      emit(f, true, FIN | ACK, new Uint8Array(0));
      emit(f, false, FIN | ACK, new Uint8Array(0));
      emit(f, true, ACK, new Uint8Array(0));
      flows[k] = open(next++);
    }
  }
  w.close();
  st.bytes = w.bytesWritten;
  return st;
}

/**
 * A policy for the generated traffic (clients 10.1.0.0/16 -> the server 10.2.0.1:8080, pod api-1
 * of namespace shop): ingress from the clients' CIDR on 8080 with these http rules (YAML flow
 * mappings, e.g. `{method: GET, path: "/api/v1/.*"}`). Benchmarks and tests replay with it.
 */
export function generatedTrafficPolicy(httpRules: readonly string[]): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
    - fromCIDR: [10.1.0.0/16]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
${httpRules.map((r) => `              - ${r}\n`).join('')}`;
}

/** The generated traffic's server as an inventory (its clients are world). */
export const GENERATED_TRAFFIC_ENDPOINTS = 'endpoints:\n  - {name: api-1, namespace: shop, labels: {app: api}, ips: [10.2.0.1]}\n';
