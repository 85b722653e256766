// The compiled object `replay --kernel DIR` runs beside the simulator: the policies it was
// compiled from (saved by `l7bpf compile` under policies/), and a check that given policies
// are those, so that kernel and simulator judge by the same rules.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { hasErrors, parsePolicies, PolicyError } from '../policy/index.ts';
import type { Policy } from '../policy/types.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { policyHash } from '../../codegen/emit/manifest.ts';

/** The policy files next to the object, so `replay --kernel DIR` can run the simulator on them. */
export function savePolicySources(files: readonly string[], out: string): void {
  const dir = join(out, 'policies');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const index = files.map((f, i) => {
    const saved = `${String(i).padStart(2, '0')}-${basename(f)}`;
    copyFileSync(f, join(dir, saved));
    return { saved, source: f };
  });
  // the original names: rules keep citing the file:line their authors know
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index, null, 2) + '\n');
}

/** The policy sources `l7bpf compile` saved next to the object, under their original names. */
export function savedPolicies(kernelDir: string): readonly Policy[] {
  const index = join(kernelDir, 'policies', 'index.json');
  if (!existsSync(index)) throw new Error(`${kernelDir} has no policies/index.json (compile it with l7bpf compile, or give --policy)`);
  const entries = JSON.parse(readFileSync(index, 'utf8')) as { saved: string; source: string }[];
  const policies: Policy[] = [];
  for (const e of entries) {
    const r = parsePolicies(readFileSync(join(kernelDir, 'policies', e.saved), 'utf8'), e.source);
    if (hasErrors(r.diagnostics)) throw new PolicyError(r.diagnostics);
    policies.push(...r.policies);
  }
  return policies;
}

/** Throws unless the object in `dir` was compiled from `policies` (its manifest's IR hash). */
export function checkObjectMatches(dir: string, policies: readonly Policy[]): void {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { sha256: { input: string } };
  if (policyHash(lower(policies)) !== manifest.sha256.input) {
    throw new Error(`${dir} was compiled from other policies than the ones given (hint: run l7bpf compile again, or omit --policy)`);
  }
}
