// The simulator with the oracle as judge gives every spec case's verdict when its request is
// replayed as packets, whole or split anywhere.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { replaySync, type PacketEvent } from '../../sim/index.ts';
import { oracleJudge, type OracleRequestVerdict } from '../../src/replay/judge.ts';
import { readSpecFile, type SpecCase, type SpecFile } from '../helpers/spec-format.ts';
import { caseRequest, evaluateCase } from '../helpers/spec-eval.ts';
import { casePackets, records } from '../helpers/spec-packets.ts';

const specDir = join(import.meta.dirname, '..', 'spec');
const specs = readdirSync(specDir).filter((f) => f.endsWith('.md')).sort().map((f) => readSpecFile(join(specDir, f)));

interface Outcome {
  readonly requests: OracleRequestVerdict[];
  readonly packets: PacketEvent[];
}

function simulate(spec: SpecFile, c: SpecCase, splitAt: readonly number[] = []): Outcome | null {
  const packets = casePackets(spec, c, splitAt);
  if (!packets) return null;
  const out: Outcome = { requests: [], packets: [] };
  replaySync(records(packets), {
    judge: oracleJudge(spec.policies, spec.inventory),
    onRequest: (r) => out.requests.push(r.verdict),
    onPacket: (p) => out.packets.push(p),
  });
  return out;
}

/** The simulator's overall verdict: was the connection (and its request) let through? */
function simAllowed(o: Outcome): boolean {
  if (o.packets[0]?.action === 'drop') return false;
  return o.requests.every((r) => r.allowed) && !o.packets.some((p) => p.action === 'reset');
}

describe('simulator == oracle on spec cases replayed as packets', () => {
  for (const spec of specs) {
    it(spec.file.split('/').pop() ?? spec.file, () => {
      for (const c of spec.cases) {
        const sim = simulate(spec, c);
        if (!sim) continue;
        const oracle = evaluateCase(spec, c);
        assert.equal(simAllowed(sim), oracle.allowed, `${c.file}:${c.line}: ${c.request || 'connection'} from ${c.from} to ${c.to}: simulator ${simAllowed(sim) ? 'allowed' : 'denied'}, oracle ${oracle.allowed ? 'allowed' : 'denied'} (${oracle.summary}); packets: ${sim.packets.map((p) => `${p.action}/${p.reason}`).join(' ')}`);
      }
    });
  }
});

describe('segmentation does not change verdicts', () => {
  const cases = specs.flatMap((spec) => spec.cases.filter((c) => caseRequest(c).kind !== 'none').map((c) => ({ spec, c })));
  it('any split of any spec request gives the unsplit verdict', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: cases.length - 1 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (i, cuts) => {
        const { spec, c } = cases[i]!;
        const req = caseRequest(c);
        const len = req.kind !== 'none' ? req.bytes.length : 0;
        const splitAt = [...new Set(cuts.map((x) => Math.floor(x * len)).filter((x) => x > 0 && x < len))].sort((a, b) => a - b);
        const whole = simulate(spec, c);
        const split = simulate(spec, c, splitAt);
        if (!whole || !split) return;
        assert.equal(simAllowed(split), simAllowed(whole), `${c.file}:${c.line} split at ${splitAt.join(',')}`);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
