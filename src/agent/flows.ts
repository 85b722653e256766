// The agent's flow pump: it holds the deployment's drain lock for as long as it runs and moves
// the kernel's events into the flow history (src/observe) through the FlowHub, where `observe`,
// GetFlows and the metrics read them. Events are rendered with the endpoints and rules of the
// generation they were read under; a swap hands the pump the new state. The history and the
// hub live as long as the agent: a deployment removed and made again writes on into them.
import type { Libbpf } from '../loader/index.ts';
import { openEvents, pinPaths, EventsUnavailableError } from '../loader/index.ts';
import { inventoryFromState, type DeployState } from '../deploy/state.ts';
import type { HistoryEntry } from '../observe/history.ts';
import type { FlowRecord } from '../flow/build.ts';
import { Drainer, type EventSource } from '../observe/drain.ts';
import { clockOffsetNs, type ObserveContext } from '../replay/observe-flow.ts';
import { observedEntry } from '../replay/observe-entry.ts';
import type { FlowHub } from '../hubble/hub.ts';

const POLL_MS = 200;

export interface PumpEnv {
  readonly lib: Libbpf;
  readonly pinRoot: string;
  readonly nodeName: string;
  /** every entry before it is appended, with the records its lines were written from (metrics) */
  readonly onEntry: (e: HistoryEntry, records: readonly FlowRecord[]) => void;
  readonly warn: (msg: string) => void;
}

export class FlowPump {
  private drainer: Drainer | null = null;
  private ctx: ObserveContext | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly env: PumpEnv, private readonly hub: FlowHub) {}

  /** A deploy or swap happened: render with its endpoints and rules; a fresh deployment (first,
   * or after an undeploy) has a new ring buffer, so the drainer opens it anew. */
  deployed(s: DeployState, fresh: boolean): void {
    this.ctx = { inventory: inventoryFromState(s.inventory), rules: s.rules, httpRules: s.httpRules, nodeName: this.env.nodeName, clockOffsetNs: clockOffsetNs() };
    if (this.drainer && !fresh) return;
    this.drainer?.close();
    this.drainer = new Drainer(this.hub.history, () => this.openEvents(s.name), (bufs) => this.entries(bufs), undefined, this.hub);
    this.loop ??= this.run();
  }

  undeployed(): void {
    this.drainer?.close();
    this.drainer = null;
  }

  /** One round now (tests, and before a GetFlows answers). */
  step(): number {
    return this.drainer?.step() ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.drainer?.close();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.step();
        await (this.drainer?.wait(POLL_MS) ?? new Promise((r) => setTimeout(r, POLL_MS)));
      } catch (e) {
        this.env.warn(`flows: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
  }

  private entries(bufs: readonly Buffer[]): HistoryEntry[] {
    const ctx = this.ctx;
    if (!ctx) return [];
    return bufs.flatMap((b) => {
      const o = observedEntry(ctx, b);
      if (!o) return [];
      this.env.onEntry(o.entry, o.records);
      return [o.entry];
    });
  }

  private openEvents(name: string): EventSource | null {
    try {
      return openEvents(this.env.lib, pinPaths(this.env.pinRoot, name).events);
    } catch (e) {
      if (!(e instanceof EventsUnavailableError)) throw e;
      this.env.warn(e.message);
      return null;
    }
  }
}
