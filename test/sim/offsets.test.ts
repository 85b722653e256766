// Stage 3's offsets (sim/stream/offsets.ts, the kernel's l7_tcp.h maps) as properties over
// cuts and inserts anywhere in sequence space, wraparound included: with nothing cut or
// inserted every map is the identity; past the latest cut a client byte moves down by every cut
// and the server's acknowledgement of it moves back up by the same; past the latest answer a
// server byte moves up by every answer and the client's acknowledgement of it back down; inside
// the latest cut or answer a position maps to where it was cut or inserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Offsets } from '../../sim/stream/offsets.ts';

const SEED = 20261204;
const u32 = fc.nat(0xffffffff);
const len = fc.integer({ min: 1, max: 5000 });

/** Offsets after `n` cuts (each after the last) and `m` answers from starting points anywhere. */
const offsets = fc.record({ c0: u32, s0: u32, cuts: fc.array(fc.tuple(fc.nat(4000), len), { minLength: 1, maxLength: 4 }), ins: fc.array(fc.tuple(fc.nat(4000), len), { minLength: 1, maxLength: 4 }) })
  .map(({ c0, s0, cuts, ins }) => {
    const o = new Offsets();
    let c = c0;
    for (const [gap, n] of cuts) {
      c = (c + gap) >>> 0;
      o.cutOut(c, (c + n) >>> 0);
      c = (c + n) >>> 0;
    }
    let s = s0;
    for (const [gap, n] of ins) {
      s = (s + gap) >>> 0;
      o.insert(s, n);
      s = (s + n) >>> 0;
    }
    return { o, cut: cuts.reduce((a, [, n]) => a + n, 0), inserted: ins.reduce((a, [, n]) => a + n, 0) };
  });

test('offsets: with nothing cut or inserted every map is the identity', () => {
  fc.assert(fc.property(u32, (x) => {
    const o = new Offsets();
    assert.deepEqual([o.cliToSrv(x), o.viewToSrv(x), o.srvToView(x), o.srvAckToCli(x)], [x, x, x, x]);
  }), { seed: SEED, numRuns: 2000 });
});

test('offsets: past the latest cut client bytes move down by every cut, and the server acknowledges them back up', () => {
  fc.assert(fc.property(offsets, fc.nat(100000), ({ o, cut }, d) => {
    const c = (o.cutHi + d) >>> 0;
    assert.equal(o.cliToSrv(c), (c - cut) >>> 0);
    assert.equal(o.srvAckToCli(o.cliToSrv(c)), c);
    // the latest cut's own bytes are where it was: acknowledging that place acknowledges the cut
    const inside = (o.cutLo + (d % (((o.cutHi - o.cutLo) >>> 0) || 1))) >>> 0;
    assert.equal(o.cliToSrv(inside), o.cliToSrv(o.cutLo));
    assert.equal(o.srvAckToCli(o.cliToSrv(o.cutLo)), o.cutHi);
  }), { seed: SEED, numRuns: 2000 });
});

test('offsets: past the latest answer server bytes move up by every answer, and the client acknowledges them back down', () => {
  fc.assert(fc.property(offsets, fc.nat(100000), ({ o, inserted }, d) => {
    const v = (o.insHi + d) >>> 0;
    assert.equal(o.viewToSrv(v), (v - inserted) >>> 0);
    assert.equal(o.srvToView(o.viewToSrv(v)), v);
    // inside the latest answer: the server never sent those bytes, its place is what is acknowledged
    const inside = (o.insLo + 1 + (d % Math.max(1, ((o.insHi - o.insLo) >>> 0) - 1))) >>> 0;
    if (inside !== o.insHi) assert.equal(o.viewToSrv(inside), o.viewToSrv(o.insLo));
    assert.equal(o.srvToView(o.viewToSrv(o.insLo)), o.insHi);
  }), { seed: SEED, numRuns: 2000 });
});

test('offsets: between the cut before the latest and the latest, positions take the earlier cuts only', () => {
  fc.assert(fc.property(offsets, ({ o, cut }) => {
    const prev = cut - ((o.cutHi - o.cutLo) >>> 0);
    const c = (o.cutLo - 1) >>> 0; // the byte before the latest cut
    assert.equal(o.cliToSrv(c), (c - prev) >>> 0);
    assert.equal(o.srvAckToCli(o.cliToSrv(c)), c);
  }), { seed: SEED, numRuns: 2000 });
});
