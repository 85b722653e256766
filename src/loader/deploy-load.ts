// Loading a new policy revision for deploy: like loadObject (object.ts), plus map reuse
// before load (bpf_map__reuse_fd), so the new programs share the pinned `flows` and
// `events` of the running deployment. A map is reused only when its layout (type, key,
// value, entries) is unchanged; otherwise the new object gets a fresh one and says so.
import { readFileSync } from 'node:fs';
import type { Libbpf, MapInfo, ObjectHandle, ProgramDesc } from './types.ts';
import type { LoadedObject, LoadedProgram } from './object.ts';
import { LoadError, VerifierError, processedInsns, verifierTail } from './errors.ts';

export interface ReuseCandidate {
  readonly name: string;
  /** fd of the pinned map (owned by the caller) */
  readonly fd: number;
}

export interface DeployLoad {
  readonly obj: LoadedObject;
  /** names of the maps taken over from the running deployment */
  readonly reused: readonly string[];
  /** maps that could not be reused, with why */
  readonly fresh: readonly string[];
}

const STATS_LOG = 64 * 1024;
const FULL_LOG = 16 * 1024 * 1024;

export function loadForDeploy(lib: Libbpf, path: string, reuse: readonly ReuseCandidate[]): DeployLoad {
  const data = readFileSync(path);
  const first = attempt(lib, data, path, reuse, 4, STATS_LOG);
  if (first.ok) return first.load;
  // refused: load again with the full verifier log to say why
  const second = attempt(lib, data, path, reuse, 1, FULL_LOG);
  if (second.ok) return second.load;
  throw second.error;
}

/** Why a pinned map cannot serve the new object, or null when it can. */
export function layoutMismatch(pinned: MapInfo, want: { type: number; keySize: number; valueSize: number; maxEntries: number }): string | null {
  const diffs: string[] = [];
  if (pinned.type !== want.type) diffs.push(`type ${pinned.type} -> ${want.type}`);
  if (pinned.keySize !== want.keySize) diffs.push(`key ${pinned.keySize} -> ${want.keySize} B`);
  if (pinned.valueSize !== want.valueSize) diffs.push(`value ${pinned.valueSize} -> ${want.valueSize} B`);
  if (pinned.maxEntries !== want.maxEntries) diffs.push(`entries ${pinned.maxEntries} -> ${want.maxEntries}`);
  return diffs.length ? diffs.join(', ') : null;
}

type Attempt = { ok: true; load: DeployLoad } | { ok: false; error: Error };

function attempt(lib: Libbpf, data: Buffer, path: string, reuse: readonly ReuseCandidate[], level: number, size: number): Attempt {
  lib.takeMessages();
  const handle = lib.openMem(data, path);
  const { reused, fresh } = applyReuse(lib, handle, reuse);
  const progs = lib.programs(handle);
  for (const p of progs) lib.setProgramLog(p.handle, size, level);
  const r = lib.load(handle);
  if (r !== 0) {
    const error = failure(lib, path, progs, r);
    lib.close(handle);
    return { ok: false, error };
  }
  return { ok: true, load: { obj: loaded(lib, path, handle, progs), reused, fresh } };
}

function applyReuse(lib: Libbpf, handle: ObjectHandle, reuse: readonly ReuseCandidate[]): { reused: string[]; fresh: string[] } {
  const wanted = new Map(lib.maps(handle).map((m) => [m.name, m] as const));
  const reused: string[] = [];
  const fresh: string[] = [];
  for (const c of reuse) {
    const want = wanted.get(c.name);
    const info = lib.mapInfo(c.fd);
    const why = !want ? 'not in the new object' : !info ? 'pinned map unreadable' : layoutMismatch(info, want);
    if (why === null && lib.reuseMapFd(handle, c.name, c.fd) === 0) reused.push(c.name);
    else fresh.push(`${c.name} (${why ?? 'bpf_map__reuse_fd failed'})`);
  }
  return { reused, fresh };
}

function loaded(lib: Libbpf, path: string, handle: ObjectHandle, progs: readonly ProgramDesc[]): LoadedObject {
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
    path, lib, handle, programs, maps,
    close() {
      if (!closed) lib.close(handle);
      closed = true;
    },
  };
}

function failure(lib: Libbpf, path: string, progs: readonly ProgramDesc[], errno: number): Error {
  const messages = lib.takeMessages();
  const failed = messages.map((m) => /prog '([^']+)': failed to load/.exec(m)?.[1]).find((n) => n !== undefined);
  const culprit = progs.find((p) => p.name === failed) ?? progs.filter((p) => lib.programLog(p.handle).trim().length > 0).at(-1);
  const log = culprit ? lib.programLog(culprit.handle) : '';
  if (culprit && log.trim().length > 0) return new VerifierError(path, culprit.name, errno, verifierTail(log));
  return new LoadError(path, errno, messages);
}
