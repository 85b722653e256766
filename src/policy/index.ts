// Policy loading: files -> policies + diagnostics.
import { readFileSync } from 'node:fs';
import { parsePolicies, type ParseResult } from './parse.ts';
import { hasErrors, PolicyError, type Diagnostic } from '../source/diagnostics.ts';
import type { Policy } from './types.ts';

export * from './types.ts';
export { formatDiagnostic, hasErrors, PolicyError, type Diagnostic } from '../source/diagnostics.ts';
export { parsePolicies } from './parse.ts';

export function readPolicyFiles(files: readonly string[]): ParseResult {
  const policies: Policy[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      diagnostics.push({ severity: 'error', pos: { file: f, line: 1, col: 1 }, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const r = parsePolicies(text, f);
    policies.push(...r.policies);
    diagnostics.push(...r.diagnostics);
  }
  return { policies, diagnostics };
}

/** Policies from files, or a PolicyError listing every error. */
export function loadPolicies(files: readonly string[]): readonly Policy[] {
  const r = readPolicyFiles(files);
  if (hasErrors(r.diagnostics)) throw new PolicyError(r.diagnostics);
  return r.policies;
}
