// `l7bpf verify DIR`: load the object of DIR into the kernel without attaching it and report
// what the verifier processed per program and the map sizes. Exit code 0 when it loads.
import { verifyDir, type VerifyReport } from '../deploy/verify.ts';
import { exitCodeOf } from './exit.ts';

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
    return exitCodeOf(e);
  }
}
