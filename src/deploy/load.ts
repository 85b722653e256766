// Loading a new policy revision for deploy: like loadObject (object.ts), plus map reuse
// before load (bpf_map__reuse_fd), so the new programs share the pinned `flows` and
// `events` of the running deployment. A map is reused only when its layout (type, key,
// value, entries) is unchanged; otherwise the new object gets a fresh one and says so.
import type { Libbpf, MapInfo, ObjectHandle } from '../loader/index.ts';
import { loadObject, type LoadedObject } from '../loader/index.ts';

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

export function loadForDeploy(lib: Libbpf, path: string, reuse: readonly ReuseCandidate[]): DeployLoad {
  // each load attempt opens the object anew, so reuse is applied (and reported) per attempt
  let outcome = { reused: [] as string[], fresh: [] as string[] };
  const obj = loadObject(lib, path, { beforeLoad: (handle) => (outcome = applyReuse(lib, handle, reuse)) });
  return { obj, ...outcome };
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
