// The Markdown spec cases must keep covering every strict-request rule and every verdict
// reason: a rule added to src/verdict without a spec case fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { H2_STRICT_RULES, STRICT_RULES } from '../../src/verdict/index.ts';

const text = readdirSync('test/spec')
  .filter((f) => f.endsWith('.md'))
  .map((f) => readFileSync(`test/spec/${f}`, 'utf8'))
  .join('\n');

describe('spec coverage', () => {
  it('every strict-request rule (HTTP/1 and HTTP/2) has a spec case expecting it', () => {
    const missing = [...Object.keys(STRICT_RULES), ...Object.keys(H2_STRICT_RULES)].filter((r) => !text.includes(`| denied strict:${r} |`));
    assert.deepEqual(missing, []);
  });

  it('every verdict reason appears as an expectation', () => {
    const reasons = ['allowed no-policy', 'allowed allowed', 'allowed l7-allowed', 'allowed default-deny-off', 'denied default-deny', 'denied deny-rule', 'denied l7-denied'];
    assert.deepEqual(reasons.filter((r) => !text.includes(`| ${r} |`)), []);
  });
});
