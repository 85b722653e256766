// A pcapng whose two interfaces saw the same packets (the client's veth and the server's):
// replay keeps each flow on the interface that saw its first packet, so the copies neither
// count twice nor meet a connection their first copy ended (issue 15).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readCapture } from '../../sim/index.ts';
import { OneInterfacePerFlow } from '../../src/replay/interfaces.ts';
import { replayCapture } from '../../src/replay/run.ts';
import { loadPolicies } from '../../src/policy/index.ts';
import { loadInventory } from '../../src/endpoints/index.ts';
import { pcapngBytes, type PcapngFrame } from '../helpers/pcapng.ts';

const SEED = 'examples/seed';
const seed = [...readCapture(`${SEED}/seed-traffic.pcap`)].map((r) => ({ ts: r.ts, data: r.data.slice() }));

/** every frame of the seed capture on interface 0, and again on interface 1 `delays[i]` ns later */
function doubled(delays: readonly bigint[]): PcapngFrame[] {
  const frames = seed.flatMap((r, i) => [{ iface: 0, ts: r.ts, data: r.data }, { iface: 1, ts: r.ts + (delays[i % delays.length] ?? 0n), data: r.data }]);
  return frames.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.iface - b.iface));
}

it('the copies from the second interface are skipped, whatever their delay', () => {
  fc.assert(fc.property(fc.array(fc.bigInt({ min: 0n, max: 20_000_000n }), { minLength: 1, maxLength: 8 }), (delays) => {
    const f = new OneInterfacePerFlow(true);
    const frames = doubled(delays);
    const kept = frames.filter((fr, i) => f.keep({ ...fr, linkType: 1, origLen: fr.data.length, offset: i, interfaceId: fr.iface }));
    assert.equal(kept.length, seed.length);
    assert.equal(f.skipped, seed.length);
    assert.ok(kept.every((k) => k.iface === 0));
  }), { numRuns: 50 });
});

it('only a pcapng describing two or more interfaces is sorted out (a pcap or one interface decodes nothing)', () => {
  const frames = doubled([0n]);
  assert.equal(OneInterfacePerFlow.severalInterfaces(pcapngBytes([1, 1], frames)), true);
  assert.equal(OneInterfacePerFlow.severalInterfaces(pcapngBytes([1], frames.filter((f) => f.iface === 0))), false);
  assert.equal(OneInterfacePerFlow.severalInterfaces(readFileSync(`${SEED}/seed-traffic.pcap`)), false);
});

it('a pcap (one interface) decodes nothing and keeps everything', () => {
  const f = new OneInterfacePerFlow(false);
  assert.ok(seed.every((r, i) => f.keep({ ...r, linkType: 1, origLen: r.data.length, offset: i, interfaceId: 0 })));
  assert.equal(f.skipped, 0);
});

it('replay of the doubled capture counts what the single one does, and says how many copies it skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-ifaces-'));
  try {
    const file = join(dir, 'doubled.pcapng');
    writeFileSync(file, pcapngBytes([1, 1], doubled([5_000_000n])));
    const o = { policies: loadPolicies([`${SEED}/corrected-policy.yaml`]), inventory: loadInventory(`${SEED}/endpoints.yaml`) };
    const one = replayCapture(`${SEED}/seed-traffic.pcap`, o);
    const two = replayCapture(file, o);
    assert.equal(two.summary.render(), one.summary.render());
    assert.equal(two.connections, one.connections);
    assert.equal(two.skippedCopies, seed.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
