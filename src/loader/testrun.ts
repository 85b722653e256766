// BPF_PROG_TEST_RUN driver: feed frames packet by packet (flow state persists in the maps
// between runs), collect the TC action, the packet as the program left it, and the events.
import type { RingbufHandle } from './types.ts';
import { type LoadedObject, mapOf, program } from './object.ts';
import { decodeEvent, type RawEvent } from './event.generated.ts';

export const TC_ACT = { OK: 0, SHOT: 2, REDIRECT: 7, UNSPEC: -1 } as const;
export type ProgName = 'l7_from_pod' | 'l7_to_pod';

export interface RunFrame {
  /** l7_from_pod: traffic leaving the pod (its egress policy); l7_to_pod: entering it (ingress policy) */
  readonly prog: ProgName;
  readonly frame: Uint8Array;
}

export interface RunResult {
  /** TC action returned by the program (0 OK, 2 SHOT) */
  readonly action: number;
  readonly dataOut: Buffer;
  readonly events: readonly RawEvent[];
}

export class TestRunError extends Error {
  constructor(prog: string, errno: number) {
    super(`loader: BPF_PROG_TEST_RUN of ${prog} failed (errno ${-errno}) (hint: frames must start with an Ethernet header and be >= 14 bytes)`);
    this.name = 'TestRunError';
  }
}

/** Keeps one ring-buffer reader per object so events can be drained after each run. */
export class PacketRunner {
  private readonly rb: RingbufHandle;
  constructor(readonly obj: LoadedObject) {
    this.rb = obj.lib.ringbufOpen(mapOf(obj, 'events').fd);
    this.rb.consume();
  }

  run(f: RunFrame): RunResult {
    const p = program(this.obj, f.prog);
    const r = this.obj.lib.testRun(p.fd, { data: f.frame, dataOutSize: f.frame.length + 512 });
    if (r.err !== 0) throw new TestRunError(f.prog, r.err);
    return { action: r.retval, dataOut: r.dataOut, events: this.events() };
  }

  /** Average ns per run over `repeat` runs of the same frame. */
  time(f: RunFrame, repeat: number): number {
    const p = program(this.obj, f.prog);
    const r = this.obj.lib.testRun(p.fd, { data: f.frame, dataOutSize: f.frame.length + 512, repeat });
    if (r.err !== 0) throw new TestRunError(f.prog, r.err);
    this.rb.consume();
    return r.durationNs;
  }

  events(): RawEvent[] {
    return this.rb.consume().map((b) => decodeEvent(b));
  }

  close(): void {
    this.rb.free();
  }
}

/** One-shot helper: run the frames in order with flow state kept across them. */
export function runPackets(obj: LoadedObject, frames: readonly RunFrame[]): RunResult[] {
  const runner = new PacketRunner(obj);
  try {
    return frames.map((f) => runner.run(f));
  } finally {
    runner.close();
  }
}
