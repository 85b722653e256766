// The watch half of an informer: the library's ListWatch does list/relist/resume and keeps
// the cache; this class is the Watch it calls. It asks for bookmarks (so resourceVersion keeps
// moving on quiet collections and a reconnect after a long silence still resumes instead of
// hitting 410), sets a server-side timeout, ends the stream itself on an ERROR event (410 =
// relist, anything else = reconnect after a backoff), and can be stopped while connecting.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type http from 'node:http';
import { ApiError, statusError, type KubeHttp, type KubeStatus } from './http.ts';

type EventCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type Done = (err: unknown) => void;

export interface WatchHooks {
  /** before each watch request: the list it follows has been applied to the cache (or it
   * resumes after the server ended the previous watch); may wait, to pace reconnects */
  beforeWatch(): Promise<void>;
  /** the server accepted the watch */
  opened(): void;
  /** an event arrived, bookmarks included */
  event(): void;
  /** the timeoutSeconds to ask for */
  timeoutSeconds(): number;
}

interface WatchEvent {
  type?: string;
  object?: unknown;
}

export class StreamWatch extends Watch {
  private readonly active = new Set<AbortController>();
  private stopped = false;

  constructor(kc: KubeConfig, private readonly api: KubeHttp, private readonly hooks: WatchHooks) {
    super(kc);
  }

  override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: EventCallback, done: Done): Promise<AbortController> {
    const controller = new AbortController();
    await this.hooks.beforeWatch();
    if (this.stopped) return controller;
    this.active.add(controller);
    const finish = this.finisher(controller, done);
    try {
      const res = await this.api.open(path, this.query(queryParams), controller.signal);
      this.hooks.opened();
      readEvents(res, (ev) => this.deliver(ev, callback), finish);
    } catch (err) {
      finish(err);
    }
    return controller;
  }

  /** Aborts every watch, connecting or open; watch() opens none until resume(). */
  stop(): void {
    this.stopped = true;
    for (const c of this.active) c.abort();
    this.active.clear();
  }

  resume(): void {
    this.stopped = false;
  }

  private query(params: Record<string, string | number | boolean | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') out[k] = String(v);
    return { ...out, watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(this.hooks.timeoutSeconds()) };
  }

  /** Ends a watch once. done is not called when the owner aborted it (ListWatch or stop()),
   * and is called on a later turn: ListWatch stores the controller watch() returns only after
   * it resolves, and its done handler must not run before that. */
  private finisher(controller: AbortController, done: Done): (err: unknown) => void {
    return (err) => {
      this.active.delete(controller);
      if (controller.signal.aborted) return;
      controller.abort();
      setImmediate(() => done(err));
    };
  }

  private deliver(ev: WatchEvent, callback: EventCallback): void {
    this.hooks.event();
    callback(ev.type ?? '', ev.object, ev);
  }
}

/** Newline-delimited WatchEvents, until the stream ends or an ERROR event (the API server
 * closes the watch after one; we do not wait for it). A line that does not parse ends the
 * watch with an error: it resumes from the last resourceVersion, so the event is sent again
 * rather than lost. */
function readEvents(res: http.IncomingMessage, deliver: (ev: WatchEvent) => void, finish: (err: unknown) => void): void {
  let buffer = '';
  let ended = false;
  const end = (err: unknown) => {
    if (ended) return;
    ended = true;
    finish(err);
  };
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0 && !ended; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) parseLine(line, deliver, end);
    }
  });
  res.on('end', () => end(null));
  res.on('error', (e) => end(e));
  res.on('close', () => end(res.complete ? null : new ApiError('the API server closed the watch mid-stream', null)));
}

function parseLine(line: string, deliver: (ev: WatchEvent) => void, end: (err: unknown) => void): void {
  let ev: WatchEvent;
  try {
    ev = JSON.parse(line) as WatchEvent;
  } catch {
    end(new ApiError(`unreadable watch event: ${line.slice(0, 80)}`, null));
    return;
  }
  deliver(ev);
  if (ev.type === 'ERROR') end(statusError((ev.object ?? {}) as KubeStatus, null));
}
