// `l7bpf compile --policy FILE... -o DIR`: the library's compile (src/api.ts) and a summary.
import { compile } from '../api.ts';
import { exitCodeOf } from './exit.ts';
import { formatDiagnostic } from '../source/diagnostics.ts';

export interface CompileFlags {
  readonly policy: readonly string[];
  readonly out: string;
  readonly inspectionLimit?: number;
  /** the old name of --inspection-limit */
  readonly inspectWindow?: number;
  readonly testClock?: boolean;
}

/** CLI entry; returns the process exit code. */
export function compileCommand(flags: CompileFlags): number {
  try {
    const limit = flags.inspectionLimit ?? flags.inspectWindow;
    const r = compile(flags.policy, flags.out, { ...(limit ? { inspectWindow: limit } : {}), ...(flags.testClock ? { testClock: true } : {}) });
    const m = r.manifest;
    for (const w of r.warnings) console.error(formatDiagnostic(w));
    console.log([
      `wrote ${r.objectPath}, ${r.headerPath}, ${r.manifestPath}`,
      `  ${m.selectors.length} selectors, ${m.rules.length} rules, ${m.httpRules.length} http rules`,
      `  object sha256 ${m.sha256.object}`,
    ].join('\n'));
    return 0;
  } catch (e) {
    console.error(`l7bpf compile: ${(e as Error).message}`);
    return exitCodeOf(e);
  }
}
