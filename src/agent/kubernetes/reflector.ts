// One kind's informer: the library's ListWatch (list, cache, watch from the list's
// resourceVersion, relist on 410) with our StreamWatch underneath, plus what ListWatch leaves
// to its user: after any other error it stops, and this restarts it after a backoff; it
// resumes from the last resourceVersion it saw (an event's or a bookmark's), so nothing in
// between is lost, and relists only when the server says that version is gone.
import { ListWatch, ADD, UPDATE, DELETE, ERROR, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { Backoff, type BackoffTiming } from './backoff.ts';
import type { KubeHttp } from './http.ts';
import type { KindDef, KubeObject } from './kinds.ts';
import { StreamWatch } from './watch.ts';

export interface ReflectorTiming {
  readonly backoff: BackoffTiming;
  /** what a watch asks the server for; client-go draws 5-10 min */
  readonly watchTimeoutSeconds: () => number;
  /** a watch the server ends sooner than this, with no event, is reopened after a backoff
   * rather than at once (a proxy that closes every stream must not make a busy loop) */
  readonly quickCloseMs: number;
}

export interface ReflectorEvents {
  /** the cache changed, or the first list of this kind is in */
  changed(): void;
  problem(reason: string): void;
  /** a watch was accepted: whatever problem came before is over */
  healthy(): void;
}

/** Items per list request (client-go's reflector pages by 500 too). */
const PAGE = 500;

interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

export class Reflector {
  private readonly informer: ListWatch<KubernetesObject>;
  private readonly watcher: StreamWatch;
  private readonly backoff: Backoff;
  private synced = false;
  private stopped = true;
  private listAbort = new AbortController();
  private timer: { handle: NodeJS.Timeout; wake: () => void } | null = null;
  /** when the current watch was opened (0: it follows a list, not a reconnect), and whether it delivered anything */
  private watchOpenedAt = 0;
  private sawEvent = false;

  constructor(readonly def: KindDef, kc: KubeConfig, private readonly api: KubeHttp, private readonly events: ReflectorEvents, private readonly timing: ReflectorTiming) {
    this.backoff = new Backoff(timing.backoff);
    this.watcher = new StreamWatch(kc, api, {
      beforeWatch: () => this.beforeWatch(),
      opened: () => events.healthy(),
      event: () => this.onEvent(),
      timeoutSeconds: timing.watchTimeoutSeconds,
    });
    this.informer = new ListWatch(def.path, this.watcher, () => this.list(), false);
    for (const verb of [ADD, UPDATE, DELETE] as const) this.informer.on(verb, () => events.changed());
    this.informer.on(ERROR, (err) => this.failed(err));
  }

  /** true once the first list has been applied: from then on the cache is a complete view */
  get isSynced(): boolean {
    return this.synced;
  }

  get resourceVersion(): string {
    return this.informer.latestResourceVersion();
  }

  objects(): readonly KubeObject[] {
    // the cache holds the API server's JSON as it came (our list and watch never deserialize)
    return this.informer.list() as readonly KubeObject[];
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.watcher.resume();
    this.listAbort = new AbortController();
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.listAbort.abort();
    this.watcher.stop();
    await this.informer.stop();
  }

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    const items: KubeObject[] = [];
    let page: KubeList = {};
    do {
      const cont = page.metadata?.continue;
      page = await this.api.getJson<KubeList>(this.def.path, { limit: String(PAGE), ...(cont ? { continue: cont } : {}) }, this.listAbort.signal);
      items.push(...(page.items ?? []));
    } while (page.metadata?.continue);
    this.backoff.reset();
    this.watchOpenedAt = 0;
    // ListWatch's cache keys objects by metadata, which every API object has
    const withMeta = items.map((o) => ({ ...o, metadata: o.metadata ?? {} })) as KubernetesObject[];
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: page.metadata?.resourceVersion ?? '' }, items: withMeta };
  }

  /** ListWatch calls for a watch right after it applied a list, or when the previous watch
   * ended cleanly: the first call is the moment this kind is synced. */
  private async beforeWatch(): Promise<void> {
    if (!this.synced) {
      this.synced = true;
      this.events.changed();
    }
    const closedQuickly = this.watchOpenedAt > 0 && !this.sawEvent && Date.now() - this.watchOpenedAt < this.timing.quickCloseMs;
    if (closedQuickly) await this.sleep(this.backoff.next());
    this.watchOpenedAt = Date.now();
    this.sawEvent = false;
  }

  private onEvent(): void {
    this.sawEvent = true;
    this.backoff.reset();
  }

  /** ListWatch gave up on this error (a failed list, a refused or broken watch): try again later. */
  private failed(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.events.problem(`${this.def.path}: ${messageOf(err)} (retrying in ${(delay / 1000).toFixed(1)} s)`);
    this.watchOpenedAt = 0;
    void this.sleep(delay).then(() => {
      if (!this.stopped) void this.informer.start();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(handle);
        this.timer = null;
        resolve();
      };
      const handle = setTimeout(wake, ms);
      this.timer = { handle, wake };
    });
  }

  private wake(): void {
    this.timer?.wake();
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
