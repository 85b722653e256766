// Diagnostics in the esbuild/clang shape: `file:line:col: error: message (hint: ...)`.
import type { SourcePos } from './types.ts';

export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  readonly severity: Severity;
  readonly pos: SourcePos;
  readonly message: string;
  readonly hint?: string;
  /** stable identifier for lints, e.g. `glob-regex` */
  readonly code?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const hint = d.hint ? ` (hint: ${d.hint})` : '';
  return `${d.pos.file}:${d.pos.line}:${d.pos.col}: ${d.severity}: ${d.message}${hint}`;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Thrown by APIs that need a valid policy set; carries every diagnostic found. */
export class PolicyError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
    this.name = 'PolicyError';
  }
}
