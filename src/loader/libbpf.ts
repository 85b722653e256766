// libbpf 1.x through koffi. The ONLY module importing koffi (scripts/lint.mjs enforces it).
// Structs passed by pointer are built by hand in koffi-allocated memory: libbpf's *_opts
// need `sz` set, and data_out must be memory the kernel can write into.
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import type { Libbpf, LibbpfDeploy, MapDesc, MapInfo, ObjectHandle, ProgInfo, ProgramDesc, ProgramHandle, RingbufHandle, TcSlot, TestRunInput, TestRunResult } from './types.ts';

export class LibbpfUnavailableError extends Error {
  constructor(cause: string) {
    super(`libbpf: cannot load libbpf.so.1 (${cause}) (hint: apt-get install libbpf1)`);
  }
}

type Fn = (...args: unknown[]) => any;
interface Raw {
  open_file: Fn; open_mem: Fn; next_program: Fn; prog_name: Fn; prog_fd: Fn; set_log_buf: Fn; set_log_level: Fn;
  load: Fn; close: Fn; next_map: Fn; map_fd: Fn; map_name: Fn; map_type: Fn; key_size: Fn; value_size: Fn;
  max_entries: Fn; update: Fn; lookup: Fn; del: Fn; next_key: Fn; test_run: Fn; info: Fn; get_error: Fn;
  rb_new: Fn; rb_consume: Fn; rb_epoll: Fn; rb_free: Fn; set_print: Fn; vsnprintf: Fn; probe_helper: Fn; probe_map: Fn;
}

interface RawDeploy {
  tc_hook_create: Fn; tc_hook_destroy: Fn; tc_attach: Fn; tc_detach: Fn; tc_query: Fn; obj_pin: Fn; obj_get: Fn;
  find_map: Fn; reuse_fd: Fn; if_nametoindex: Fn; mmap: Fn; munmap: Fn; epoll_wait: Fn & { async: (...args: unknown[]) => void };
}

let singleton: Libbpf | null = null;

/** The process-wide binding (libbpf keeps global state such as the print callback). */
export function openLibbpf(): Libbpf {
  if (singleton) return singleton;
  let lib: LibraryHandle;
  let libc: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
    libc = koffi.load('libc.so.6');
  } catch (e) {
    throw new LibbpfUnavailableError((e as Error).message);
  }
  singleton = bind(lib, libc);
  return singleton;
}

function bind(lib: LibraryHandle, libc: LibraryHandle): Libbpf {
  const obj = koffi.pointer('bpf_object', koffi.opaque());
  const prog = koffi.pointer('bpf_program', koffi.opaque());
  const map = koffi.pointer('bpf_map', koffi.opaque());
  const rb = koffi.pointer('ring_buffer', koffi.opaque());
  const SampleFn = koffi.proto('int l7_sample_fn(void *ctx, void *data, size_t size)');
  const PrintFn = koffi.proto('int l7_print_fn(int level, const char *fmt, void *args)');
  const raw: Raw = {
    open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
    open_mem: lib.func('bpf_object *bpf_object__open_mem(const void *buf, size_t sz, void *opts)'),
    next_program: lib.func('bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prog)'),
    prog_name: lib.func('const char *bpf_program__name(bpf_program *prog)'),
    prog_fd: lib.func('int bpf_program__fd(bpf_program *prog)'),
    set_log_buf: lib.func('int bpf_program__set_log_buf(bpf_program *prog, void *buf, size_t size)'),
    set_log_level: lib.func('int bpf_program__set_log_level(bpf_program *prog, uint32_t level)'),
    load: lib.func('int bpf_object__load(bpf_object *obj)'),
    close: lib.func('void bpf_object__close(bpf_object *obj)'),
    next_map: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *map)'),
    map_fd: lib.func('int bpf_map__fd(bpf_map *map)'),
    map_name: lib.func('const char *bpf_map__name(bpf_map *map)'),
    map_type: lib.func('int bpf_map__type(bpf_map *map)'),
    key_size: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
    value_size: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
    max_entries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
    update: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    lookup: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
    del: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
    next_key: lib.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next)'),
    test_run: lib.func('int bpf_prog_test_run_opts(int fd, void *opts)'),
    info: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)'),
    get_error: lib.func('long libbpf_get_error(const void *ptr)'),
    rb_new: lib.func('ring_buffer *ring_buffer__new(int fd, l7_sample_fn *cb, void *ctx, void *opts)'),
    rb_consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
    rb_epoll: lib.func('int ring_buffer__epoll_fd(ring_buffer *rb)'),
    rb_free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
    set_print: lib.func('void *libbpf_set_print(l7_print_fn *fn)'),
    probe_helper: lib.func('int libbpf_probe_bpf_helper(int prog_type, int helper_id, const void *opts)'),
    probe_map: lib.func('int libbpf_probe_bpf_map_type(int map_type, const void *opts)'),
    vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)'),
  };
  void obj; void prog; void map; void rb;

  // libbpf messages are collected, not printed: callers put them into typed errors.
  const messages: string[] = [];
  const line = Buffer.alloc(1 << 20);
  const printCb = koffi.register((level: number, fmt: string, args: unknown) => {
    const n = raw.vsnprintf(line, line.length, fmt, args) as number;
    const text = line.subarray(0, Math.max(0, Math.min(n, line.length - 1))).toString('utf8').trimEnd();
    if (process.env.L7BPF_LIBBPF_DEBUG) process.stderr.write(`libbpf[${level}]: ${text}\n`);
    if (messages.length < 2000) messages.push(text);
    return 0;
  }, koffi.pointer(PrintFn));
  raw.set_print(printCb);

  const logBufs = new Map<unknown, { ptr: unknown; size: number }>();
  const isNull = (p: unknown): boolean => p === null || p === undefined;
  const errOf = (p: unknown): number => (isNull(p) ? -22 : Number(raw.get_error(p)));

  function opened(p: unknown, what: string): ObjectHandle {
    if (isNull(p) || errOf(p) !== 0) {
      throw new Error(`libbpf: cannot open ${what}: ${messages.splice(0).slice(-5).join('; ')} (hint: is it a BPF ELF object built by clang -target bpf?)`);
    }
    return p as ObjectHandle;
  }

  return {
    openFile: (path) => opened(raw.open_file(path, null), path),
    openMem(data, name) {
      // libbpf keeps pointers into the buffer until close: copy into stable memory
      const mem = koffi.alloc('uint8_t', data.length);
      Buffer.from(koffi.view(mem, data.length)).set(data);
      const h = opened(raw.open_mem(mem, data.length, null), name);
      keep.set(h, mem);
      return h;
    },
    programs(o) {
      const out: ProgramDesc[] = [];
      for (let p = raw.next_program(o, null); !isNull(p); p = raw.next_program(o, p)) {
        out.push({ name: raw.prog_name(p) as string, handle: p as ProgramHandle });
      }
      return out;
    },
    setProgramLog(p, size, level) {
      const ptr = koffi.alloc('uint8_t', size);
      Buffer.from(koffi.view(ptr, size)).fill(0);
      logBufs.set(p, { ptr, size });
      raw.set_log_buf(p, ptr, size);
      raw.set_log_level(p, level);
    },
    programLog(p) {
      const b = logBufs.get(p);
      if (!b) return '';
      const view = Buffer.from(koffi.view(b.ptr, b.size));
      const end = view.indexOf(0);
      return view.subarray(0, end < 0 ? b.size : end).toString('utf8');
    },
    load: (o) => raw.load(o) as number,
    programFd: (p) => raw.prog_fd(p) as number,
    maps(o) {
      const out: MapDesc[] = [];
      for (let m = raw.next_map(o, null); !isNull(m); m = raw.next_map(o, m)) {
        out.push({
          name: raw.map_name(m) as string, fd: raw.map_fd(m) as number, type: raw.map_type(m) as number,
          keySize: raw.key_size(m) as number, valueSize: raw.value_size(m) as number, maxEntries: raw.max_entries(m) as number,
        });
      }
      return out;
    },
    mapUpdate: (fd, key, value, flags = 0) => raw.update(fd, key, value, flags) as number,
    mapLookup(fd, key, valueSize) {
      const out = Buffer.alloc(valueSize);
      return (raw.lookup(fd, key, out) as number) === 0 ? out : null;
    },
    mapDelete: (fd, key) => raw.del(fd, key) as number,
    mapNextKey(fd, key, keySize) {
      const out = Buffer.alloc(keySize);
      return (raw.next_key(fd, key, out) as number) === 0 ? out : null;
    },
    testRun: (fd, input) => testRun(raw, fd, input),
    progInfo(fd): ProgInfo {
      const info = Buffer.alloc(232);
      const len = [info.length];
      const r = raw.info(fd, info, len) as number;
      if (r !== 0) return { verifiedInsns: -1, xlatedLen: -1, jitedLen: -1 };
      return { verifiedInsns: info.readUInt32LE(216), xlatedLen: info.readUInt32LE(20), jitedLen: info.readUInt32LE(16) };
    },
    ringbufOpen: (fd) => ringbufOpen(raw, SampleFn, fd),
    close(o) {
      raw.close(o);
      keep.delete(o);
    },
    takeMessages: () => messages.splice(0),
    probeHelper: (progType, helperId) => raw.probe_helper(progType, helperId, null) as number,
    probeMapType: (mapType) => raw.probe_map(mapType, null) as number,
    ...bindDeploy(lib, libc, raw),
  };
}

// struct bpf_tc_hook (libbpf 1.1.2): sz@0 ifindex@8 attach_point@12 parent@16; sizeof 24.
function tcHook(ifindex: number, point: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(24n, 0);
  b.writeInt32LE(ifindex, 8);
  b.writeUInt32LE(point, 12);
  return b;
}

// struct bpf_tc_opts: sz@0 prog_fd@8 flags@12 prog_id@16 handle@20 priority@24; sizeof 32.
function tcOpts(slot: TcSlot, progFd: number, flags: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(32n, 0);
  b.writeInt32LE(progFd, 8);
  b.writeUInt32LE(flags, 12);
  b.writeUInt32LE(slot.handle, 20);
  b.writeUInt32LE(slot.priority, 24);
  return b;
}

const BPF_TC_F_REPLACE = 1;
const PAGE = 4096;

function bindDeploy(lib: LibraryHandle, libc: LibraryHandle, raw: Raw): LibbpfDeploy {
  const d: RawDeploy = {
    tc_hook_create: lib.func('int bpf_tc_hook_create(void *hook)'),
    tc_hook_destroy: lib.func('int bpf_tc_hook_destroy(void *hook)'),
    tc_attach: lib.func('int bpf_tc_attach(void *hook, _Inout_ uint8_t *opts)'),
    tc_detach: lib.func('int bpf_tc_detach(void *hook, void *opts)'),
    tc_query: lib.func('int bpf_tc_query(void *hook, _Inout_ uint8_t *opts)'),
    obj_pin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
    obj_get: lib.func('int bpf_obj_get(const char *path)'),
    find_map: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
    reuse_fd: lib.func('int bpf_map__reuse_fd(void *map, int fd)'),
    if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
    mmap: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: libc.func('int munmap(void *addr, size_t len)'),
    epoll_wait: libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)') as RawDeploy['epoll_wait'],
  };
  const info = (fd: number, size: number): Buffer | null => {
    const b = Buffer.alloc(size);
    return (raw.info(fd, b, [size]) as number) === 0 ? b : null;
  };
  return {
    tcHookCreate: (ifindex, point) => d.tc_hook_create(tcHook(ifindex, point)) as number,
    // BPF_TC_INGRESS | BPF_TC_EGRESS: libbpf deletes the clsact qdisc itself
    tcHookDestroy: (ifindex) => d.tc_hook_destroy(tcHook(ifindex, 3)) as number,
    tcAttach(slot, progFd, replace) {
      const opts = tcOpts(slot, progFd, replace ? BPF_TC_F_REPLACE : 0);
      const err = d.tc_attach(tcHook(slot.ifindex, slot.point), opts) as number;
      return { err, progId: opts.readUInt32LE(16) };
    },
    tcDetach: (slot) => d.tc_detach(tcHook(slot.ifindex, slot.point), tcOpts(slot, 0, 0)) as number,
    tcQuery(slot) {
      const opts = tcOpts(slot, 0, 0);
      const err = d.tc_query(tcHook(slot.ifindex, slot.point), opts) as number;
      return { err, progId: err === 0 ? opts.readUInt32LE(16) : 0 };
    },
    objPin: (fd, path) => d.obj_pin(fd, path) as number,
    objGet: (path) => d.obj_get(path) as number,
    reuseMapFd(obj, name, fd) {
      const m = d.find_map(obj, name);
      if (m === null || m === undefined) return -2;
      return d.reuse_fd(m, fd) as number;
    },
    mapInfo(fd): MapInfo | null {
      // struct bpf_map_info: type@0 id@4 key_size@8 value_size@12 max_entries@16 map_flags@20 name@24[16]
      const b = info(fd, 96);
      if (!b) return null;
      const name = b.subarray(24, 40);
      const end = name.indexOf(0);
      return {
        type: b.readUInt32LE(0), id: b.readUInt32LE(4), keySize: b.readUInt32LE(8), valueSize: b.readUInt32LE(12),
        maxEntries: b.readUInt32LE(16), name: name.subarray(0, end < 0 ? 16 : end).toString('utf8'),
      };
    },
    progId: (fd) => info(fd, 232)?.readUInt32LE(4) ?? 0,
    ifIndex: (name) => d.if_nametoindex(name) as number,
    ringbufPositions(mapFd) {
      // consumer_pos on the first page, producer_pos on the second (kernel/bpf/ringbuf.c);
      // PROT_READ = 1, MAP_SHARED = 1
      const p = d.mmap(null, 2 * PAGE, 1, 1, mapFd, 0);
      if (p === null || koffi.address(p) === 0xffffffffffffffffn) return null;
      const view = Buffer.from(koffi.view(p, 2 * PAGE));
      const out = { consumer: view.readBigUInt64LE(0), producer: view.readBigUInt64LE(PAGE) };
      d.munmap(p, 2 * PAGE);
      return out;
    },
    epollWait(epfd, timeoutMs) {
      const events = Buffer.alloc(12 * 4);
      return new Promise((resolve, reject) => {
        d.epoll_wait.async(epfd, events, 4, timeoutMs, (err: unknown, n: number) => {
          if (err) reject(err as Error);
          // EINTR (a signal) reads as "nothing ready"
          else resolve(n < 0 ? 0 : n);
        });
      });
    },
  };
}

const keep = new Map<unknown, unknown>();

// struct bpf_test_run_opts (libbpf 1.1.2, x86_64/aarch64): sz@0 data_in@8 data_out@16
// data_size_in@24 data_size_out@28 ctx_in@32 ctx_out@40 ctx_size_in@48 ctx_size_out@52
// retval@56 repeat@60 duration@64 flags@68 cpu@72 batch_size@76; sizeof 80.
// struct __sk_buff: tstamp@152, sizeof 192 (uapi linux/bpf.h since 5.x)
const SKB_CTX_SIZE = 192;
const SKB_CTX_TSTAMP = 152;

function testRun(raw: Raw, fd: number, input: TestRunInput): TestRunResult {
  const outSize = input.dataOutSize ?? Math.max(256, input.data.length + 256);
  const ctxSize = input.tstampNs === undefined ? 0 : SKB_CTX_SIZE;
  const total = 80 + input.data.length + outSize + ctxSize;
  const mem = koffi.alloc('uint8_t', total);
  const view = Buffer.from(koffi.view(mem, total));
  view.fill(0);
  const base = koffi.address(mem);
  view.set(input.data, 80);
  view.writeBigUInt64LE(80n, 0);
  view.writeBigUInt64LE(base + 80n, 8);
  view.writeBigUInt64LE(base + 80n + BigInt(input.data.length), 16);
  view.writeUInt32LE(input.data.length, 24);
  view.writeUInt32LE(outSize, 28);
  view.writeInt32LE(input.repeat ?? 1, 60);
  if (input.tstampNs !== undefined) {
    // every other field 0: the kernel refuses a ctx setting what test_run does not take
    const at = 80 + input.data.length + outSize;
    view.writeBigUInt64LE(input.tstampNs, at + SKB_CTX_TSTAMP);
    view.writeBigUInt64LE(base + BigInt(at), 32);
    view.writeUInt32LE(ctxSize, 48);
  }
  const r = raw.test_run(fd, mem) as number;
  const outLen = Math.min(view.readUInt32LE(28), outSize);
  const start = 80 + input.data.length;
  const result: TestRunResult = {
    err: r,
    retval: view.readUInt32LE(56),
    durationNs: view.readUInt32LE(64),
    dataOut: Buffer.from(view.subarray(start, start + outLen)),
  };
  koffi.free(mem);
  return result;
}

function ringbufOpen(raw: Raw, SampleFn: TypeObject, fd: number): RingbufHandle {
  let pending: Buffer[] = [];
  const cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint) => {
    pending.push(Buffer.from(koffi.view(data, Number(size))));
    return 0;
  }, koffi.pointer(SampleFn));
  const h = raw.rb_new(fd, cb, null, null);
  if (h === null || Number(raw.get_error(h)) !== 0) {
    koffi.unregister(cb);
    throw new Error(`libbpf: ring_buffer__new(fd ${fd}) failed (hint: is the map a BPF_MAP_TYPE_RINGBUF?)`);
  }
  return {
    consume() {
      raw.rb_consume(h);
      const out = pending;
      pending = [];
      return out;
    },
    epollFd: () => raw.rb_epoll(h) as number,
    free() {
      raw.rb_free(h);
      koffi.unregister(cb);
    },
  };
}
