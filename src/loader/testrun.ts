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
  /** the packet's time (skb->tstamp): drives rate limits in an object built with --test-clock */
  readonly tstampNs?: bigint;
}

export interface RunResult {
  /** TC action returned by the program (0 OK, 2 SHOT) */
  readonly action: number;
  readonly dataOut: Buffer;
  readonly events: readonly RawEvent[];
}

/** ETH_HLEN: bpf_test_init refuses shorter data. */
export const TEST_RUN_MIN_FRAME = 14;

/**
 * Largest frame BPF_PROG_TEST_RUN runs through a tc program. bpf_test_init (net/bpf/test_run.c)
 * copies the data into one page, behind NET_SKB_PAD + NET_IP_ALIGN of headroom and in front of
 * SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), and refuses (EINVAL) what does not fit:
 * 4096 - 64 - 0 - 320 = 3712 on x86_64 (NET_IP_ALIGN is 0 there, 2 by default elsewhere;
 * skb_shared_info is 320 bytes in the kernel's BTF with MAX_SKB_FRAGS 17). Measured on 6.18 by a
 * binary search over frame sizes: 3712 bytes run, 3713 fail with EINVAL.
 */
export const TEST_RUN_MAX_FRAME = 4096 - 64 - (process.arch === 'x64' ? 0 : 2) - 320;

const ERRNO = { EPERM: 1, E2BIG: 7, EACCES: 13, EINVAL: 22, ENOSPC: 28, ENOTSUPP: 524 } as const;

export class TestRunError extends Error {
  /** -errno, as the syscall returned it */
  readonly errno: number;
  constructor(readonly prog: string, errno: number, readonly frameLen: number, where = '') {
    super(`${where}loader: BPF_PROG_TEST_RUN of ${prog} failed on a ${frameLen}-byte frame (errno ${-errno}) (hint: ${testRunHint(-errno, frameLen)})`);
    this.name = 'TestRunError';
    this.errno = errno;
  }

  /** The same error, prefixed with where it happened ("packet #3 (capture offset 120): "). */
  at(where: string): TestRunError {
    return new TestRunError(this.prog, this.errno, this.frameLen, where);
  }
}

/** What the kernel most likely refused: EINVAL means the size only when the size is out of range. */
export function testRunHint(errno: number, frameLen: number): string {
  if (errno === ERRNO.EINVAL && frameLen < TEST_RUN_MIN_FRAME) return `a frame must hold at least an Ethernet header (${TEST_RUN_MIN_FRAME} bytes)`;
  if (errno === ERRNO.EINVAL && frameLen > TEST_RUN_MAX_FRAME) {
    return `test_run takes at most ${TEST_RUN_MAX_FRAME} bytes (a page minus skb headroom and skb_shared_info): split the frame into TCP segments first, as l7bpf replay --kernel does`;
  }
  if (errno === ERRNO.EINVAL) {
    return `the frame size is within test_run's ${TEST_RUN_MIN_FRAME}..${TEST_RUN_MAX_FRAME} bytes, so the kernel refused another argument ` +
      `(flags, cpu, batch_size or ctx: check the bpf_test_run_opts layout in src/loader/libbpf.ts against this libbpf), or this kernel's ` +
      `skb_shared_info is larger than TEST_RUN_MAX_FRAME assumes (CONFIG_MAX_SKB_FRAGS above 17)`;
  }
  if (errno === ERRNO.EPERM || errno === ERRNO.EACCES) return 'test_run needs root (CAP_BPF and CAP_NET_ADMIN)';
  if (errno === ERRNO.ENOSPC) return 'the program left a packet larger than the output buffer (dataOutSize)';
  if (errno === ERRNO.E2BIG) return 'the ctx passed is larger than struct __sk_buff on this kernel';
  if (errno === ERRNO.ENOTSUPP) return 'this kernel cannot test_run this program type';
  return 'see BPF_PROG_TEST_RUN in bpf(2)';
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
    const r = this.obj.lib.testRun(p.fd, { data: f.frame, dataOutSize: f.frame.length + 512, ...(f.tstampNs !== undefined ? { tstampNs: f.tstampNs } : {}) });
    if (r.err !== 0) throw new TestRunError(f.prog, r.err, f.frame.length);
    return { action: r.retval, dataOut: r.dataOut, events: this.events() };
  }

  /** Average ns per run over `repeat` runs of the same frame. */
  time(f: RunFrame, repeat: number): number {
    const p = program(this.obj, f.prog);
    const r = this.obj.lib.testRun(p.fd, { data: f.frame, dataOutSize: f.frame.length + 512, repeat });
    if (r.err !== 0) throw new TestRunError(f.prog, r.err, f.frame.length);
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
