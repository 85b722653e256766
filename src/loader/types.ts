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

export interface Libbpf {
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
}

export interface RingbufHandle {
  consume(): Buffer[];
  epollFd(): number;
  free(): void;
}
