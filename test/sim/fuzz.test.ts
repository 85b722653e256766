// Random and mutated captures never crash the reader, decoders or replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzCampaign, seedCaptures, fuzzOne } from '../../sim/builder/mutate.ts';

test('seed captures replay cleanly', () => {
  for (const s of seedCaptures()) assert.ok(fuzzOne(s, 0) > 0);
});

test('3000 mutated or random captures: no exception, every input terminates', () => {
  const r = fuzzCampaign(3000, 7);
  assert.equal(r.cases, 3000);
  assert.ok(r.packets > 0);
});
