// One value per limit: the defaults in bpf-templates/l7_limits.h are codegen/emit's, whose
// inspection window is the oracle's head limit (src/verdict/limits.ts), which the simulator
// takes too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LIMITS, TEMPLATES_DIR } from '../../codegen/emit/index.ts';
import { DEFAULT_LIMITS as SEMANTIC_LIMITS } from '../../src/verdict/limits.ts';
import { DEFAULT_INSPECTION_LIMIT } from '../../sim/replay/index.ts';

const header = readFileSync(join(TEMPLATES_DIR, 'l7_limits.h'), 'utf8');
const defined = (name: string): number => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);

test('l7_limits.h defaults are the emitter defaults', () => {
  assert.equal(defined('L7_INSPECT_WINDOW'), DEFAULT_LIMITS.inspectWindow);
  assert.equal(defined('L7_MAX_DFA_STATES'), DEFAULT_LIMITS.dfaStates);
  assert.equal(defined('L7_MAX_HTTP_RULES'), DEFAULT_LIMITS.httpRules);
  assert.equal(defined('L7_MAX_HEADER_REQS'), DEFAULT_LIMITS.headerReqs);
  assert.equal(defined('L7_MAX_SELECTORS'), DEFAULT_LIMITS.selectors);
  assert.equal(defined('L7_MAX_PORT_ENTRIES'), DEFAULT_LIMITS.portEntries);
});

test('the inspection window is the oracle head limit, in the emitter and the simulator', () => {
  assert.equal(DEFAULT_LIMITS.inspectWindow, SEMANTIC_LIMITS.headBytes);
  assert.equal(DEFAULT_INSPECTION_LIMIT, SEMANTIC_LIMITS.headBytes);
});
