// Open + load a BPF object through the Libbpf interface, capturing verifier logs.
import { readFileSync } from 'node:fs';
import type { Libbpf, MapDesc, ObjectHandle, ProgramDesc } from './types.ts';
import { release } from 'node:os';
import { KernelFeatureError, LoadError, VerifierError, verifierTail, processedInsns } from './errors.ts';
import { MIN_KERNEL, missingFeatures } from './features.ts';

export interface LoadedProgram {
  readonly name: string;
  readonly fd: number;
  /** instructions the verifier processed (prog info, else the stats log line), -1 unknown */
  readonly verifiedInsns: number;
}

export interface LoadedObject {
  readonly path: string;
  readonly lib: Libbpf;
  readonly handle: ObjectHandle;
  readonly programs: ReadonlyMap<string, LoadedProgram>;
  readonly maps: ReadonlyMap<string, MapDesc>;
  close(): void;
}

const STATS_LOG = 64 * 1024;
const FULL_LOG = 16 * 1024 * 1024;

export interface LoadOptions {
  /** called on every attempt after open, before load: deploy reuses pinned maps here */
  readonly beforeLoad?: (handle: ObjectHandle) => void;
}

/** Loads (does not attach) every program of the object; throws VerifierError with the log tail. */
export function loadObject(lib: Libbpf, path: string, opts: LoadOptions = {}): LoadedObject {
  const data = readFileSync(path);
  const first = tryLoad(lib, data, path, 4, STATS_LOG, opts);
  if (first.ok) return first.obj;
  // failed: reload with the full log to say why
  const second = tryLoad(lib, data, path, 1, FULL_LOG, opts);
  if (second.ok) return second.obj;
  // an old kernel: name what it lacks rather than the verifier's unknown helper
  const missing = missingFeatures(lib);
  if (missing.length > 0) throw new KernelFeatureError(path, release(), missing, MIN_KERNEL);
  throw second.error;
}

type Attempt = { ok: true; obj: LoadedObject } | { ok: false; error: Error };

function tryLoad(lib: Libbpf, data: Buffer, path: string, level: number, size: number, opts: LoadOptions): Attempt {
  lib.takeMessages();
  const handle = lib.openMem(data, path);
  opts.beforeLoad?.(handle);
  const progs = lib.programs(handle);
  for (const p of progs) lib.setProgramLog(p.handle, size, level);
  const r = lib.load(handle);
  if (r !== 0) {
    const error = loadFailure(lib, path, progs, r);
    lib.close(handle);
    return { ok: false, error };
  }
  const programs = new Map<string, LoadedProgram>();
  for (const p of progs) {
    const fd = lib.programFd(p.handle);
    const info = lib.progInfo(fd);
    const insns = info.verifiedInsns > 0 ? info.verifiedInsns : processedInsns(lib.programLog(p.handle)) ?? -1;
    programs.set(p.name, { name: p.name, fd, verifiedInsns: insns });
  }
  const maps = new Map(lib.maps(handle).map((m) => [m.name, m] as const));
  let closed = false;
  return {
    ok: true,
    obj: {
      path, lib, handle, programs, maps,
      close() {
        if (!closed) lib.close(handle);
        closed = true;
      },
    },
  };
}

function loadFailure(lib: Libbpf, path: string, progs: readonly ProgramDesc[], errno: number): Error {
  const messages = lib.takeMessages();
  // libbpf stops at the first program the kernel refuses and names it
  const failed = messages.map((m) => /prog '([^']+)': failed to load/.exec(m)?.[1]).find((n) => n !== undefined);
  const withLog = progs.filter((p) => lib.programLog(p.handle).trim().length > 0);
  const culprit = progs.find((p) => p.name === failed) ?? withLog[withLog.length - 1];
  if (culprit) {
    const log = lib.programLog(culprit.handle);
    if (log.trim().length > 0) return new VerifierError(path, culprit.name, errno, verifierTail(log));
  }
  return new LoadError(path, errno, messages);
}

export function program(obj: LoadedObject, name: string): LoadedProgram {
  const p = obj.programs.get(name);
  if (!p) throw new Error(`${obj.path}: no program ${name} (has: ${[...obj.programs.keys()].join(', ')})`);
  return p;
}

export function mapOf(obj: LoadedObject, name: string): MapDesc {
  const m = obj.maps.get(name);
  if (!m) throw new Error(`${obj.path}: no map ${name} (has: ${[...obj.maps.keys()].join(', ')})`);
  return m;
}
