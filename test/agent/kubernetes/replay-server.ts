// A stand-in API server for the Kubernetes source's tests: it answers list requests with
// fixture lists and keeps watch requests open, writing the WatchEvents a test pushes. What
// it can do is what a real API server does to an informer: page nothing, end a watch
// cleanly, drop its connection, refuse a watch with a Status (410 Gone, 403), send ERROR
// events. Every request is recorded (URL), so tests can check what the client asked for.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, 'fixtures');
export const fixture = <T = unknown>(file: string): T => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as T;
/** the lines of a recorded watch stream */
export const watchLines = (file: string): string[] => readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter((l) => l.trim());

interface Refusal {
  readonly status: number;
  readonly body: unknown;
}

export class ReplayServer {
  readonly requests: URL[] = [];
  /** the Authorization header of each request, in order */
  readonly authorizations: (string | undefined)[] = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly lists = new Map<string, unknown>();
  private readonly heldLists = new Map<string, Promise<void>>();
  private readonly refusals = new Map<string, Refusal[]>();
  private readonly watches = new Map<string, http.ServerResponse[]>();
  private readonly waiters: (() => void)[] = [];

  /** Listens on 127.0.0.1 (a free port), or on a socket made elsewhere (another network
   * namespace's, handed over by test/e2e/fixtures/listen-in-netns.mjs); resolves with its URL. */
  async listen(handle?: NetServer): Promise<string> {
    await new Promise<void>((resolve) => (handle ? this.server.listen(handle, resolve) : this.server.listen(0, '127.0.0.1', resolve)));
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address}:${port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  setList(path: string, list: unknown): void {
    this.lists.set(path, list);
  }

  /** list requests for path wait until the returned function is called */
  holdList(path: string): () => void {
    let release = () => {};
    this.heldLists.set(path, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.heldLists.delete(path);
      release();
    };
  }

  /** the next list or watch request (by kind of request) for path is answered with this status and body */
  refuseNext(path: string, kind: 'list' | 'watch', status: number, body: unknown): void {
    const key = `${kind} ${path}`;
    this.refusals.set(key, [...(this.refusals.get(key) ?? []), { status, body }]);
  }

  /** writes one WatchEvent line to every open watch of path */
  push(path: string, line: string): void {
    for (const res of this.open(path)) res.write(line.endsWith('\n') ? line : line + '\n');
  }

  /** ends the open watches of path as the API server does at its timeout */
  end(path: string): void {
    for (const res of this.open(path)) res.end();
  }

  /** cuts the connections of the open watches of path mid-stream */
  drop(path: string): void {
    for (const res of this.open(path)) res.socket?.destroy();
  }

  open(path: string): http.ServerResponse[] {
    return (this.watches.get(path) ?? []).filter((r) => !r.writableEnded && !r.destroyed);
  }

  /** requests so far for path, lists or watches */
  requestsFor(path: string, kind: 'list' | 'watch'): URL[] {
    return this.requests.filter((u) => u.pathname === path && (u.searchParams.get('watch') === 'true') === (kind === 'watch'));
  }

  /** resolves once the test's condition on the recorded requests holds (checked at every request) */
  async until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; requests: ${this.requests.map((u) => u.pathname + u.search).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://replay');
    this.requests.push(url);
    this.authorizations.push(req.headers.authorization);
    this.waiters.splice(0).forEach((w) => w());
    const watch = url.searchParams.get('watch') === 'true';
    const refusal = this.refusals.get(`${watch ? 'watch' : 'list'} ${url.pathname}`)?.shift();
    if (refusal) return this.reply(res, refusal.status, refusal.body);
    if (watch) return this.openWatch(url.pathname, res);
    await this.heldLists.get(url.pathname);
    const list = this.lists.get(url.pathname);
    if (list === undefined) return this.reply(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 });
    this.reply(res, 200, list);
  }

  private openWatch(path: string, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    this.watches.set(path, [...this.open(path), res]);
  }

  private reply(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
