// Where the Observer API is served and found: the unix socket and TCP addresses, written as
// hubble's --server and cilium's hubble-listen-address write them.
import { connect } from 'node:net';

/** Hubble's port (cilium's hubble-listen-address ":4244") */
export const DEFAULT_HUBBLE_PORT = 4244;

/** The agent's socket (cilium-agent's is /var/run/cilium/hubble.sock): env L7BPF_HUBBLE_SOCKET,
 * else /var/run/l7bpf/hubble.sock. */
export function defaultHubbleSocket(): string {
  return process.env.L7BPF_HUBBLE_SOCKET ?? '/var/run/l7bpf/hubble.sock';
}

export type ServerAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** `host:port`, `[v6]:port`, `:port` (host undefined: every address) or `host` (port 4244). */
export function parseHostPort(text: string): { host: string | undefined; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]/]*))(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[3] === undefined ? DEFAULT_HUBBLE_PORT : Number(m[3]);
  if (!m || port > 65535) return null;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** hubble's --server: `unix:///path` (or `unix:/path`), `host:port`, `[v6]:port` or `host`. */
export function parseServerAddress(text: string): ServerAddress {
  const unix = /^unix:(?:\/\/)?(\/.*)$/.exec(text);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const hp = parseHostPort(text);
  if (!hp?.host) throw new Error(`--server ${JSON.stringify(text)}: expected unix:///path/to/hubble.sock or host:port`);
  return { kind: 'tcp', host: hp.host, port: hp.port };
}

export function formatServerAddress(a: ServerAddress): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Something accepts connections on the unix socket (an agent, or another server, runs). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}
