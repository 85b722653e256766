// `l7bpf check <files...>`: validate policies and print lints. Exit 1 on errors.
import { readPolicyFiles, formatDiagnostic, hasErrors } from '../policy/index.ts';
import { lintPolicies } from '../check/lint.ts';
import { loadInventory } from '../endpoints/index.ts';
import type { Diagnostic } from '../source/diagnostics.ts';

export interface CheckOptions {
  readonly endpoints?: string;
}

export function checkCommand(files: readonly string[], opts: CheckOptions): number {
  const parsed = readPolicyFiles(files);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const endpoints = opts.endpoints ? loadInventory(opts.endpoints).endpoints : undefined;
  if (!hasErrors(parsed.diagnostics)) diagnostics.push(...lintPolicies(parsed.policies, endpoints));
  for (const d of sortDiagnostics(diagnostics)) process.stderr.write(formatDiagnostic(d) + '\n');
  const count = (s: string) => diagnostics.filter((d) => d.severity === s).length;
  const errors = count('error');
  process.stdout.write(`${files.length} file(s), ${parsed.policies.length} valid polic${parsed.policies.length === 1 ? 'y' : 'ies'}, ${errors} error(s), ${count('warning')} warning(s)\n`);
  return errors > 0 ? 1 : 0;
}

function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.pos.file.localeCompare(b.pos.file) || a.pos.line - b.pos.line || a.pos.col - b.pos.col);
}

export { hasErrors };
