// Replays the suricata-verify captures: none may throw, and the method/URL of every http
// event their test.yaml names must be found (or be a listed, explained difference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { readCapture } from '../../sim/capture/read.ts';
import { run } from './helpers.ts';

const root = resolve(process.cwd(), process.env.L7BPF_CORPORA ?? '../shared/corpora', 'pcaps');

/** Differences we accept, with the reason (strict parsing fails closed where suricata is lenient). */
const KNOWN: Record<string, string> = {
  'http-async GET /2': 'HTTP/1.0 without keep-alive implies Connection: close; llhttp (strict) reports HPE_CLOSED_CONNECTION for the next request, which is denied (fail closed)',
  'http-gap-simple GET /2': 'same as http-async: a second request after an HTTP/1.0 non-keep-alive request is a parse error',
  'http-gap-simple GET /3': 'same as http-async: a second request after an HTTP/1.0 non-keep-alive request is a parse error',
};

interface Expect { method?: string; url?: string }

function expectations(yamlText: string): Expect[] {
  const doc = parse(yamlText) as { checks?: { filter?: { count?: number; match?: Record<string, unknown> } }[] };
  const out: Expect[] = [];
  for (const c of doc.checks ?? []) {
    const m = c.filter?.match;
    if (!m || m.event_type !== 'http' || c.filter?.count === 0) continue;
    const method = m['http.http_method'] as string | undefined;
    const url = m['http.url'] as string | undefined;
    if (method !== undefined || url !== undefined) out.push({ method, url });
  }
  return out;
}

test('suricata-verify captures replay and yield the expected methods and URLs', (t) => {
  if (!existsSync(root)) {
    t.skip(`corpora not found at ${root} (set L7BPF_CORPORA)`);
    return;
  }
  const mismatches: string[] = [];
  const unexpectedKnown = new Set(Object.keys(KNOWN));
  let checked = 0;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    const errors: Error[] = [];
    const r = run(readCapture(join(dir, 'input.pcap'), { onError: (e) => errors.push(e) }));
    assert.deepEqual(errors.map((e) => e.message), [], `${name}: capture errors`);
    assert.ok(r.summary.packets > 0, `${name}: no packets`);
    const found = r.requests.flatMap((q) => {
      const e = q.request;
      if (e.kind === 'request') return [e];
      const f = (n: string) => (e.kind === 'h2-request' ? e.fields.find(([k]) => k === n)?.[1] : undefined);
      return e.kind === 'h2-request' ? [{ method: f(':method') ?? '', target: f(':path') ?? '' }] : [];
    });
    for (const e of expectations(readFileSync(join(dir, 'test.yaml'), 'utf8'))) {
      checked++;
      const hit = found.some((q) => (e.method === undefined || q.method === e.method) && (e.url === undefined || q.target === e.url));
      const id = `${name} ${e.method ?? 'GET'} ${e.url ?? '*'}`;
      if (hit) continue;
      if (KNOWN[id]) { unexpectedKnown.delete(id); continue; }
      mismatches.push(`${id}: not found; requests seen: ${found.map((q) => `${q.method} ${q.target}`).join(', ') || 'none'}`);
    }
  }
  assert.ok(checked >= 5, 'the corpora should name at least 5 http method/url expectations');
  assert.deepEqual(mismatches, [], 'mismatches against test.yaml');
  assert.deepEqual([...unexpectedKnown], [], 'listed known differences that no longer occur');
});
