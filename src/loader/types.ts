// The typed libbpf surface the loader needs. Implemented by libbpf.ts (koffi, the only
// module that touches the kernel) and by fake.ts (in memory, for unit tests).

/** Opaque handles: numbers in the fake, pointers (bigint) in the real binding. */
export type ObjectHandle = { readonly __obj: unique symbol } | object;
export type ProgramHandle = { readonly __prog: unique symbol } | object;

export interface MapDesc {
  readonly name: string;
  readonly fd: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export interface ProgramDesc {
  readonly name: string;
  readonly handle: ProgramHandle;
}

export interface TestRunInput {
  readonly data: Uint8Array;
  /** bytes reserved for the packet as the program leaves it */
  readonly dataOutSize?: number;
  readonly repeat?: number;
  /** skb->tstamp, passed in a struct __sk_buff ctx: the test build's rate-limit clock (L7_TEST_CLOCK) */
  readonly tstampNs?: bigint;
}

export interface TestRunResult {
  /** 0 on success, else -errno of the syscall */
  readonly err: number;
  readonly retval: number;
  /** average ns per run */
  readonly durationNs: number;
  readonly dataOut: Buffer;
}

export interface ProgInfo {
  readonly verifiedInsns: number;
  readonly xlatedLen: number;
  readonly jitedLen: number;
}

export interface Libbpf extends LibbpfDeploy {
  /** returns a handle or throws with the libbpf messages */
  openFile(path: string): ObjectHandle;
  openMem(data: Uint8Array, name: string): ObjectHandle;
  programs(obj: ObjectHandle): ProgramDesc[];
  /** verifier log for the next load: level 1 = full, 4 = stats only */
  setProgramLog(prog: ProgramHandle, size: number, level: number): void;
  programLog(prog: ProgramHandle): string;
  /** 0 or -errno */
  load(obj: ObjectHandle): number;
  programFd(prog: ProgramHandle): number;
  maps(obj: ObjectHandle): MapDesc[];
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags?: number): number;
  mapLookup(fd: number, key: Uint8Array, valueSize: number): Buffer | null;
  mapDelete(fd: number, key: Uint8Array): number;
  mapNextKey(fd: number, key: Uint8Array | null, keySize: number): Buffer | null;
  testRun(progFd: number, input: TestRunInput): TestRunResult;
  progInfo(progFd: number): ProgInfo;
  /** ring buffer: `consume` drains what is there now, never blocks */
  ringbufOpen(mapFd: number): RingbufHandle;
  close(obj: ObjectHandle): void;
  /** libbpf's own messages since the last call (warnings, load errors) */
  takeMessages(): string[];
  /** libbpf_probe_bpf_helper: 1 the kernel has the helper for the program type, 0 not, < 0 cannot tell */
  probeHelper(progType: number, helperId: number): number;
  /** libbpf_probe_bpf_map_type: 1 supported, 0 not, < 0 cannot tell */
  probeMapType(mapType: number): number;
}

/** tc clsact attach points (enum bpf_tc_attach_point) */
export const TC_INGRESS = 1;
export const TC_EGRESS = 2;
export type TcAttachPoint = typeof TC_INGRESS | typeof TC_EGRESS;

/** a tc filter slot: handle + priority on one hook */
export interface TcSlot {
  readonly ifindex: number;
  readonly point: TcAttachPoint;
  readonly handle: number;
  readonly priority: number;
}

export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly name: string;
}

/** Kernel side of deploy: tc hooks, pins, map reuse, ring buffer positions. */
export interface LibbpfDeploy {
  /** 0, or -errno (-17 EEXIST when the clsact qdisc is already there) */
  tcHookCreate(ifindex: number, point: TcAttachPoint): number;
  /** removes the clsact qdisc with every filter on it; 0 or -errno */
  tcHookDestroy(ifindex: number): number;
  /** replace=true swaps the program of an existing filter in place (BPF_TC_F_REPLACE) */
  tcAttach(slot: TcSlot, progFd: number, replace: boolean): { readonly err: number; readonly progId: number };
  tcDetach(slot: TcSlot): number;
  /** program id attached at the slot; err -2 (ENOENT) when none */
  tcQuery(slot: TcSlot): { readonly err: number; readonly progId: number };
  /** 0 or -errno */
  objPin(fd: number, path: string): number;
  /** fd or -errno */
  objGet(path: string): number;
  /** before load: use an existing map (pinned) instead of creating one; 0 or -errno */
  reuseMapFd(obj: ObjectHandle, name: string, fd: number): number;
  mapInfo(fd: number): MapInfo | null;
  progId(fd: number): number;
  /** 0 when the interface does not exist (in this network namespace) */
  ifIndex(name: string): number;
  /** ring buffer map: bytes ever produced and consumed (the kernel's positions) */
  ringbufPositions(mapFd: number): { readonly producer: bigint; readonly consumer: bigint } | null;
  /** epoll_wait on a worker thread: resolves with the number of ready fds (0 on timeout) */
  epollWait(epfd: number, timeoutMs: number): Promise<number>;
}

export interface RingbufHandle {
  consume(): Buffer[];
  epollFd(): number;
  free(): void;
}
