// `l7bpf verify DIR`: load the object of DIR into the kernel without attaching it and report
// what the verifier processed per program and the map sizes. Exit code 0 when it loads.
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

export function formatVerify(r: VerifyReport): string {
  const lines = [`${r.object}: loaded (not attached)`];
  for (const p of r.programs) lines.push(`  program ${p.name.padEnd(14)} ${p.verifiedInsns} insns processed by the verifier`);
  for (const m of r.maps) {
    const note = m.manifestMatches === false ? '  MISMATCH with manifest.json' : '';
    lines.push(`  map ${m.name.padEnd(10)} key ${m.keySize} B, value ${m.valueSize} B, ${m.maxEntries} entries${note}`);
  }
  return lines.join('\n');
}

/** CLI entry: prints the report; returns the process exit code. */
export function verifyCommand(dir: string): number {
  try {
    const r = verifyDir(dir);
    console.log(formatVerify(r));
    return r.maps.some((m) => m.manifestMatches === false) ? 1 : 0;
  } catch (e) {
    console.error(`l7bpf verify: ${(e as Error).message}`);
    return 1;
  }
}
