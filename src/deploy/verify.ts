// Loads the object of a compiled directory into the kernel without attaching it: what the
// verifier processed per program, the maps, and whether they match manifest.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLibbpf, loadObject } from '../loader/index.ts';

export interface VerifyReport {
  readonly object: string;
  readonly programs: readonly { readonly name: string; readonly verifiedInsns: number }[];
  readonly maps: readonly { readonly name: string; readonly keySize: number; readonly valueSize: number; readonly maxEntries: number; readonly manifestMatches: boolean | null }[];
}

export function verifyDir(dir: string): VerifyReport {
  const object = join(dir, 'l7bpf.o');
  if (!existsSync(object)) throw new Error(`${dir}: no l7bpf.o (hint: run l7bpf compile -o ${dir} first)`);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { maps?: { name: string; keySize: number; valueSize: number }[] }) : null;
  const obj = loadObject(openLibbpf(), object);
  try {
    const maps = [...obj.maps.values()].filter((m) => !m.name.includes('.')).map((m) => {
      const want = manifest?.maps?.find((x) => x.name === m.name);
      return { name: m.name, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, manifestMatches: want ? want.keySize === m.keySize && want.valueSize === m.valueSize : null };
    });
    return { object, programs: [...obj.programs.values()].map((p) => ({ name: p.name, verifiedInsns: p.verifiedInsns })), maps };
  } finally {
    obj.close();
  }
}
