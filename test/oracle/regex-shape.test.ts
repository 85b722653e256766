// The oracle's string-comparison shortcut for literal-like regexes gives exactly re2js's answer.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { shapeMatches, shapeOf } from '../../src/policy/regex-shape.ts';

const pieces = ['GET', 'POST', '/api', '/v1', '/users', '\\.', '\\?', 'a', 'b', '-', '_', '%2F', ':', '8080', '\\/', '\\+', 'x=1'];
const literalArb = fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 4 }).map((xs) => xs.join(''));
const patternArb = fc.oneof(
  literalArb,
  fc.array(literalArb, { minLength: 2, maxLength: 3 }).map((xs) => xs.join('|')),
  literalArb.map((x) => `${x}.*`),
  fc.constantFrom('GET|HEAD', '/api/.*', '.*', '/a\\.b', '/x.y', 'a+', '(GET)', '[a]', 'a|(b)', 'a\\d', '\\.*', 'a\\\\.*', '/a.*b'),
);
const inputArb = fc.oneof(
  fc.array(fc.constantFrom('GET', 'POST', '/api', '/v1', '/users', '.', '?', 'a', 'b', '\n', '/', '+', '\\', 'x=1', ':', '8080', 'é'), { maxLength: 5 }).map((xs) => xs.join('')),
  fc.string({ maxLength: 8 }),
);

it('shapes decide exactly like re2js full match', () => {
  let shaped = 0;
  fc.assert(
    fc.property(patternArb, inputArb, (pattern, input) => {
      const shape = shapeOf(pattern);
      if (!shape) return;
      shaped++;
      assert.equal(shapeMatches(shape, input), RE2JS.compile(pattern).matches(input), `${JSON.stringify(pattern)} on ${JSON.stringify(input)}`);
    }),
    { numRuns: 3000, seed: 11 },
  );
  assert.ok(shaped > 1500, `only ${shaped} shaped patterns generated`);
});

it('patterns with regex meaning are left to re2js', () => {
  for (const p of ['a+', '(GET)', '[a]', 'a|(b)', 'a\\d', '/a.*b', '/x.y', 'a.', '\\.*x']) assert.equal(shapeOf(p), null, p);
});
