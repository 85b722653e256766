// Position-aware access to YAML nodes: every accessor reports problems as diagnostics
// at the offending node instead of throwing, so one pass finds all errors of a file.
import { isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap } from 'yaml';
import type { Diagnostic, SourcePos } from './diagnostics.ts';

export type YNode = Node | null | undefined;

export class Reader {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string, private readonly lines: LineCounter) {}

  pos(node: YNode, fallback?: SourcePos): SourcePos {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback ?? { file: this.file, line: 1, col: 1 };
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  posAt(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  error(node: YNode, message: string, hint?: string, at?: SourcePos): void {
    this.diagnostics.push({ severity: 'error', pos: at ?? this.pos(node), message, ...(hint ? { hint } : {}) });
  }

  warn(node: YNode, code: string, message: string, hint?: string): void {
    this.diagnostics.push({ severity: 'warning', code, pos: this.pos(node), message, ...(hint ? { hint } : {}) });
  }

  note(node: YNode, code: string, message: string): void {
    this.diagnostics.push({ severity: 'note', code, pos: this.pos(node), message });
  }

  /**
   * A mapping as key -> value node; unknown keys are errors (with a did-you-mean hint, or the
   * `foreign` hint for a field another schema has: a near spelling would mislead there).
   */
  map(node: YNode, what: string, allowed: readonly string[], foreign: Readonly<Record<string, string>> = {}): Map<string, Node | null> | null {
    if (!isMap(node)) {
      this.error(node, `${what} must be a mapping`);
      return null;
    }
    const out = new Map<string, Node | null>();
    for (const item of (node as YAMLMap<Node, Node>).items) {
      const key = isScalar(item.key) ? String(item.key.value) : null;
      if (key === null) {
        this.error(item.key as Node, `${what}: keys must be plain strings`);
        continue;
      }
      if (!allowed.includes(key)) {
        const hint = Object.prototype.hasOwnProperty.call(foreign, key) ? foreign[key] : undefined;
        if (hint !== undefined) this.error(item.key as Node, `unknown field "${key}" in ${what}`, hint);
        else this.unknownField(item.key as Node, what, key, allowed);
        continue;
      }
      if (out.has(key)) this.error(item.key as Node, `${what}: duplicate field "${key}"`);
      out.set(key, (item.value as Node | null) ?? null);
    }
    return out;
  }

  private unknownField(node: Node, what: string, key: string, allowed: readonly string[]): void {
    const near = closest(key, allowed);
    const hint = near ? `did you mean "${near}"?` : `known fields: ${allowed.join(', ')}`;
    this.error(node, `unknown field "${key}" in ${what}`, hint);
  }

  seq(node: YNode, what: string): readonly Node[] | null {
    if (!isSeq(node)) {
      this.error(node, `${what} must be a list`);
      return null;
    }
    return node.items as Node[];
  }

  string(node: YNode, what: string): string | null {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) {
      return String(node.value);
    }
    this.error(node, `${what} must be a string`);
    return null;
  }

  /** Source text of a scalar as written (YAML may turn `08` or `1e3` into numbers). */
  scalarSource(node: YNode): string | null {
    if (!isScalar(node)) return null;
    return node.source ?? String(node.value);
  }

  bool(node: YNode, what: string): boolean | null {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.error(node, `${what} must be true or false`);
    return null;
  }

  stringMap(node: YNode, what: string): Record<string, string> | null {
    if (!isMap(node)) {
      this.error(node, `${what} must be a mapping of strings`);
      return null;
    }
    const out: Record<string, string> = {};
    for (const item of (node as YAMLMap<Node, Node>).items) {
      const k = this.string(item.key as Node, `${what} key`);
      const v = this.string(item.value as Node, `${what} value`);
      if (k !== null && v !== null) out[k] = v;
    }
    return out;
  }
}

/** Nearest allowed key by edit distance, when close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The yaml package's message without its own "at line L, column C:" and source excerpt. */
export function yamlMessage(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
