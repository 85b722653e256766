// `l7bpf compile --policy FILE... -o DIR`: policies -> PolicyIR -> policy.h + l7bpf.o + manifest.json.
// The policy loading and lowering are injected (the lead wires loadPolicies + lower), so this
// module only orchestrates emit and reporting.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import { emitObject, DEFAULT_LIMITS, type Limits } from '../../codegen/emit/index.ts';

export interface CompileOptions {
  readonly policy: readonly string[];
  readonly out: string;
  readonly inspectWindow?: number;
  /** policy files -> PolicyIR (loadPolicies + lower) */
  readonly toIR?: (files: readonly string[]) => PolicyIR;
}

/** Emits the object for an IR; returns a one-paragraph summary. */
export function compileIR(ir: PolicyIR, out: string, limits: Limits = DEFAULT_LIMITS): string {
  const r = emitObject(ir, out, limits);
  const m = r.manifest;
  return [
    `wrote ${r.objectPath}, ${r.headerPath}, ${r.manifestPath}`,
    `  ${m.selectors.length} selectors, ${m.rules.length} rules, ${m.httpRules.length} http rules`,
    `  object sha256 ${m.sha256.object}`,
  ].join('\n');
}

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

/** CLI entry; returns the process exit code. */
export function compileCommand(opts: CompileOptions): number {
  if (!opts.toIR) {
    console.error('l7bpf compile: no policy lowering available (hint: this build lacks codegen/ir lower())');
    return 2;
  }
  try {
    const limits = { ...DEFAULT_LIMITS, ...(opts.inspectWindow ? { inspectWindow: opts.inspectWindow } : {}) };
    console.log(compileIR(opts.toIR(opts.policy), opts.out, limits));
    savePolicySources(opts.policy, opts.out);
    return 0;
  } catch (e) {
    console.error(`l7bpf compile: ${(e as Error).message}`);
    return 1;
  }
}
