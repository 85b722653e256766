// In-memory Libbpf for unit tests of loader logic (no root, no kernel). Maps are
// byte-keyed dictionaries; load can be told to fail with a verifier log.
import type { Libbpf, MapDesc, MapInfo, ObjectHandle, ProgramHandle, RingbufHandle, TcAttachPoint, TcSlot, TestRunInput, TestRunResult } from './types.ts';

export interface FakeObjectSpec {
  readonly programs: readonly string[];
  readonly maps: readonly Omit<MapDesc, 'fd'>[];
  /** when set, load fails with -EACCES and this log on the named program */
  readonly failProgram?: { readonly name: string; readonly log: string };
  readonly verifiedInsns?: number;
}

interface FakeProg { name: string; fd: number; log: string; level: number }
interface FakeObj { progs: FakeProg[]; maps: MapDesc[]; spec: FakeObjectSpec }

const slotKey = (s: TcSlot) => `${s.ifindex}/${s.point}/${s.handle}/${s.priority}`;

export class FakeLibbpf implements Libbpf {
  readonly store = new Map<number, Map<string, Buffer>>();
  /** what testRun returns, per program fd */
  testRunImpl: (fd: number, input: TestRunInput) => TestRunResult = (_fd, input) => ({ err: 0, retval: 0, durationNs: 1, dataOut: Buffer.from(input.data) });
  private nextFd = 100;
  private readonly messages: string[] = [];
  /** kernel-side state of the deploy calls: clsact hooks, tc filters (slot -> prog fd), pins (path -> fd) */
  readonly hooks = new Set<number>();
  readonly filters = new Map<string, number>();
  readonly pins = new Map<string, number>();
  readonly interfaces = new Map<string, number>();
  /** helper ids and map types the fake kernel lacks (probeHelper / probeMapType answer 0) */
  readonly lacks = { helpers: new Set<number>(), maps: new Set<number>() };
  /** when it returns an errno (< 0), tcAttach fails for that slot */
  tcAttachFail: (slot: TcSlot) => number = () => 0;
  private readonly mapDescs = new Map<number, MapDesc>();
  constructor(private spec: FakeObjectSpec) {}

  /** the next open() builds this object (a new policy revision) */
  setSpec(spec: FakeObjectSpec): void {
    this.spec = spec;
  }

  openFile(): ObjectHandle {
    return this.open();
  }
  openMem(): ObjectHandle {
    return this.open();
  }
  private open(): ObjectHandle {
    const maps = this.spec.maps.map((m) => ({ ...m, fd: this.nextFd++ }));
    for (const m of maps) {
      this.store.set(m.fd, new Map());
      this.mapDescs.set(m.fd, m);
    }
    const obj: FakeObj = { progs: this.spec.programs.map((name) => ({ name, fd: -1, log: '', level: 0 })), maps, spec: this.spec };
    return obj as unknown as ObjectHandle;
  }
  programs(o: ObjectHandle) {
    return (o as unknown as FakeObj).progs.map((p) => ({ name: p.name, handle: p as unknown as ProgramHandle }));
  }
  setProgramLog(p: ProgramHandle, _size: number, level: number): void {
    (p as unknown as FakeProg).level = level;
  }
  programLog(p: ProgramHandle): string {
    return (p as unknown as FakeProg).log;
  }
  load(o: ObjectHandle): number {
    const obj = o as unknown as FakeObj;
    const fail = obj.spec.failProgram;
    for (const p of obj.progs) {
      if (fail && p.name === fail.name) {
        p.log = fail.log;
        this.messages.push(`libbpf: prog '${p.name}': failed to load: -13`);
        return -13;
      }
      p.fd = this.nextFd++;
      p.log = p.level & 4 ? `processed ${obj.spec.verifiedInsns ?? 1234} insns (limit 1000000)` : '';
    }
    return 0;
  }
  programFd(p: ProgramHandle): number {
    return (p as unknown as FakeProg).fd;
  }
  maps(o: ObjectHandle): MapDesc[] {
    return (o as unknown as FakeObj).maps;
  }
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array): number {
    const m = this.store.get(fd);
    if (!m) return -9;
    m.set(Buffer.from(key).toString('hex'), Buffer.from(value));
    return 0;
  }
  mapLookup(fd: number, key: Uint8Array): Buffer | null {
    return this.store.get(fd)?.get(Buffer.from(key).toString('hex')) ?? null;
  }
  mapDelete(fd: number, key: Uint8Array): number {
    return this.store.get(fd)?.delete(Buffer.from(key).toString('hex')) ? 0 : -2;
  }
  mapNextKey(fd: number, key: Uint8Array | null): Buffer | null {
    const keys = [...(this.store.get(fd)?.keys() ?? [])].sort();
    const i = key === null ? 0 : keys.indexOf(Buffer.from(key).toString('hex')) + 1;
    const k = keys[i];
    return k === undefined ? null : Buffer.from(k, 'hex');
  }
  testRun(fd: number, input: TestRunInput): TestRunResult {
    return this.testRunImpl(fd, input);
  }
  progInfo() {
    return { verifiedInsns: -1, xlatedLen: -1, jitedLen: -1 };
  }
  probeHelper(_progType: number, helperId: number): number {
    return this.lacks.helpers.has(helperId) ? 0 : 1;
  }
  probeMapType(mapType: number): number {
    return this.lacks.maps.has(mapType) ? 0 : 1;
  }
  ringbufOpen(): RingbufHandle {
    return { consume: () => [], epollFd: () => -1, free: () => {} };
  }
  close(): void {}
  tcHookCreate(ifindex: number, _point: TcAttachPoint): number {
    if (this.hooks.has(ifindex)) return -17;
    this.hooks.add(ifindex);
    return 0;
  }
  tcHookDestroy(ifindex: number): number {
    if (!this.hooks.delete(ifindex)) return -2;
    for (const k of [...this.filters.keys()]) if (k.startsWith(`${ifindex}/`)) this.filters.delete(k);
    return 0;
  }
  tcAttach(slot: TcSlot, progFd: number, replace: boolean) {
    const fail = this.tcAttachFail(slot);
    if (fail < 0) return { err: fail, progId: 0 };
    if (!this.hooks.has(slot.ifindex)) return { err: -22, progId: 0 };
    if (!replace && this.filters.has(slotKey(slot))) return { err: -17, progId: 0 };
    this.filters.set(slotKey(slot), progFd);
    return { err: 0, progId: progFd };
  }
  tcDetach(slot: TcSlot): number {
    return this.filters.delete(slotKey(slot)) ? 0 : -2;
  }
  tcQuery(slot: TcSlot) {
    const fd = this.filters.get(slotKey(slot));
    return fd === undefined ? { err: -2, progId: 0 } : { err: 0, progId: fd };
  }
  objPin(fd: number, path: string): number {
    this.pins.set(path, fd);
    return 0;
  }
  objGet(path: string): number {
    return this.pins.get(path) ?? -2;
  }
  reuseMapFd(o: ObjectHandle, name: string, fd: number): number {
    const obj = o as unknown as FakeObj;
    const i = obj.maps.findIndex((m) => m.name === name);
    const old = this.mapDescs.get(fd);
    if (i < 0 || !old) return -2;
    obj.maps[i] = { ...(obj.maps[i] as MapDesc), fd };
    return 0;
  }
  mapInfo(fd: number): MapInfo | null {
    const m = this.mapDescs.get(fd);
    return m ? { type: m.type, id: fd, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, name: m.name } : null;
  }
  progId(fd: number): number {
    return fd;
  }
  ifIndex(name: string): number {
    return this.interfaces.get(name) ?? 0;
  }
  ringbufPositions() {
    return { producer: 0n, consumer: 0n };
  }
  epollWait(): Promise<number> {
    return Promise.resolve(0);
  }
  takeMessages(): string[] {
    return this.messages.splice(0);
  }
}
