// Runs every test/spec/*.md case through the oracle.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSpecFile } from '../helpers/spec-format.ts';
import { caseMatches, evaluateCase, verdictText } from '../helpers/spec-eval.ts';

const dir = join(import.meta.dirname, '.');
const files = readdirSync(dir).filter((f) => f.endsWith('.md')).sort();

describe('policy semantics cases (test/spec/*.md)', () => {
  let total = 0;
  for (const f of files) {
    const spec = readSpecFile(join(dir, f));
    describe(`${f}: ${spec.title}`, () => {
      for (const c of spec.cases) {
        total++;
        const name = `${c.request || 'connection'} from ${c.from} to ${c.to} is ${c.expect.allowed ? 'allowed' : 'denied'}${c.expect.reason ? ` (${c.expect.reason})` : ''}`;
        it(name, () => {
          const v = evaluateCase(spec, c);
          assert.ok(caseMatches(c, v), `${c.file}:${c.line}: ${c.request || 'connection'} from ${c.from} to ${c.to} was ${verdictText(v)}; expected ${c.expect.allowed ? 'allowed' : 'denied'}${c.expect.reason ? ` ${c.expect.reason}` : ''}.\n  ${v.chain.join('\n  ')}`);
        });
      }
    });
  }
  it('has at least 60 cases', () => assert.ok(total >= 60, `only ${total} spec cases`));
});
