// Policy semantics cases as Markdown (llhttp style): a title, a paragraph of why, one or more
// ```yaml policy blocks, an optional ```yaml endpoints block (default: DEFAULT_ENDPOINTS), and
// a table `| from | to | request | expect |`. Each table row is one case.
//   request: empty (connection only) | `METHOD /target` | `METHOD /target [Name: v; Name2: v]`
//            | `grpc Service/Method` | a JSON string with the raw request head
//   expect:  `allowed` | `denied` optionally followed by a reason: `denied l7-denied`,
//            `denied strict:path-not-canonical`, `allowed no-policy`
import { readFileSync } from 'node:fs';
import { parsePolicies, hasErrors, formatDiagnostic, type Policy } from '../../src/policy/index.ts';
import { parseInventory, type Inventory } from '../../src/endpoints/index.ts';

export const DEFAULT_ENDPOINTS = `
endpoints:
  - {name: frontend-1, namespace: default, labels: {app: frontend}, ips: [10.0.0.1, "fd00::1"]}
  - {name: backend-1, namespace: default, labels: {app: backend, tier: api}, ips: [10.0.0.2, "fd00::2"], namedPorts: {http: 8080}}
  - {name: db-1, namespace: prod, labels: {app: db}, ips: [10.0.1.3]}
  - {name: frontend-2, namespace: other, labels: {app: frontend}, ips: [10.0.2.1]}
reserved:
  - {entity: host, ips: [10.0.255.1]}
  - {entity: remote-node, ips: [10.0.255.2]}
`;

export interface SpecCase {
  readonly file: string;
  readonly line: number;
  readonly title: string;
  readonly from: string;
  readonly to: string;
  readonly request: string;
  readonly expect: { readonly allowed: boolean; readonly reason: string | null };
}

export interface SpecFile {
  readonly file: string;
  readonly title: string;
  readonly why: string;
  readonly policies: readonly Policy[];
  readonly inventory: Inventory;
  readonly cases: readonly SpecCase[];
}

export function readSpecFile(file: string): SpecFile {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const title = (lines.find((l) => l.startsWith('# ')) ?? file).replace(/^# /, '');
  const why = lines.slice(1).join('\n').split(/\n```|\n\|/)[0]?.trim() ?? '';
  const policies: Policy[] = [];
  let endpointsYaml = DEFAULT_ENDPOINTS;
  const cases: SpecCase[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```yaml (policy|endpoints)\s*$/.exec(lines[i] ?? '');
    if (fence) {
      const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
      const body = lines.slice(i + 1, end).join('\n');
      if (fence[1] === 'endpoints') endpointsYaml = body;
      else policies.push(...parseBlock(body, file, i + 2));
      i = end;
      continue;
    }
    const row = parseRow(lines[i] ?? '');
    if (row && row[0] !== 'from' && !/^-+$/.test(row[0] ?? '')) cases.push(toCase(file, i + 1, title, row));
  }
  const inv = parseInventory(endpointsYaml, `${file}(endpoints)`);
  if (hasErrors(inv.diagnostics)) throw new Error(inv.diagnostics.map(formatDiagnostic).join('\n'));
  return { file, title, why, policies, inventory: inv.inventory, cases };
}

function parseBlock(body: string, file: string, firstLine: number): Policy[] {
  // pad so diagnostics and rule sources carry the Markdown file's line numbers
  const r = parsePolicies('\n'.repeat(firstLine - 1) + body, file);
  if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return [...r.policies];
}

function parseRow(line: string): string[] | null {
  if (!line.startsWith('|')) return null;
  return line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim().replace(/\\\|/g, '|').replace(/^`(.*)`$/, '$1'));
}

function toCase(file: string, line: number, title: string, row: string[]): SpecCase {
  const [from = '', to = '', request = '', expect = ''] = row;
  const m = /^(allowed|denied)(?:\s+(\S+))?$/.exec(expect);
  if (!m) throw new Error(`${file}:${line}: expect must be "allowed" or "denied [reason]", got "${expect}"`);
  return { file, line, title, from, to, request, expect: { allowed: m[1] === 'allowed', reason: m[2] ?? null } };
}
