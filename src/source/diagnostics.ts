// Diagnostics in the esbuild/clang shape: `file:line:col: error: message (hint: ...)`.

/** A position in a source file (1-based line and column). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

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
