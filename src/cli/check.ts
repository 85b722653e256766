// `l7bpf check <files...>`: validate policies and print lints. Exit 1 on errors.
import { readPolicyFiles, formatDiagnostic, hasErrors } from '../policy/index.ts';
import { lintPolicies } from '../check/lint.ts';
import { loadInventory } from '../endpoints/index.ts';
import type { Diagnostic } from '../source/diagnostics.ts';

export interface CheckOptions {
  readonly endpoints?: string;
  readonly output?: 'text' | 'json';
}

export function checkCommand(files: readonly string[], opts: CheckOptions): number {
  const parsed = readPolicyFiles(files);
  const endpoints = opts.endpoints ? loadInventory(opts.endpoints).endpoints : undefined;
  // a file with errors contributes no policy; the other files' policies are still linted
  const diagnostics = sortDiagnostics([...parsed.diagnostics, ...lintPolicies(parsed.policies, endpoints, { wholeSet: !hasErrors(parsed.diagnostics) })]);
  const count = (s: string) => diagnostics.filter((d) => d.severity === s).length;
  const errors = count('error');
  if (opts.output === 'json') {
    process.stdout.write(JSON.stringify({ files: files.length, policies: parsed.policies.length, errors, warnings: count('warning'), diagnostics: diagnostics.map(diagnosticJson) }, null, 2) + '\n');
  } else {
    for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    process.stdout.write(`${files.length} file(s), ${parsed.policies.length} valid polic${parsed.policies.length === 1 ? 'y' : 'ies'}, ${errors} error(s), ${count('warning')} warning(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}

/** One diagnostic as `check --output json` writes it: every key present, null when unset. */
function diagnosticJson(d: Diagnostic) {
  return { file: d.pos.file, line: d.pos.line, col: d.pos.col, severity: d.severity, code: d.code ?? null, message: d.message, hint: d.hint ?? null };
}

function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.pos.file.localeCompare(b.pos.file) || a.pos.line - b.pos.line || a.pos.col - b.pos.col);
}

export { hasErrors };
