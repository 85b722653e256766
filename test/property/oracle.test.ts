// Properties of the oracle (src/verdict) over random policy sets and traffic: allows only add,
// denies only take away, a matching http rule is honoured, no policy means allow, verdicts are
// deterministic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, matchHttpRule, peerMatches, selectorMatches, type Flow, type L7Input, type PeerRef, type Verdict } from '../../src/verdict/index.ts';
import { portMatches } from '../../src/verdict/direction.ts';
import type { Policy, Rule } from '../../src/policy/index.ts';
import { SEED, parse, policySet, rule, traffic, type Dir, type GenRequest } from './gen.ts';

const RUNS = { seed: SEED, numRuns: 250 };
type Obj = Record<string, unknown>;

function say(f: Flow, r: GenRequest, v: Verdict): string {
  return `${v.chain[0]} ${r.text}: ${v.allowed ? 'allowed' : 'denied'} ${v.reason}\n  ${v.chain.join('\n  ')}`;
}

/** A copy of `objs` with `extra` appended to section `section` of policy `i`'s spec. */
function withRule(objs: readonly Obj[], i: number, section: string, extra: Obj): Obj[] {
  return objs.map((o, j) => {
    if (j !== i) return o;
    const spec = o.spec as Obj;
    return { ...o, spec: { ...spec, [section]: [...((spec[section] as Obj[] | undefined) ?? []), extra] } };
  });
}

const dirArb = fc.constantFrom<Dir>('ingress', 'egress');

describe('oracle properties', () => {
  it('adding an allow rule to a section that exists never turns an allowed request into a denied one', () => {
    fc.assert(
      fc.property(policySet.filter((s) => s.length > 0), fc.nat(), dirArb, rule('ingress', false), rule('egress', false), traffic, (objs, n, dir, inRule, egRule, flows) => {
        const i = n % objs.length;
        const spec = (objs[i] as Obj).spec as Obj;
        // a new section would switch default deny on: that is not "adding an allow"
        fc.pre(dir in spec || `${dir}Deny` in spec);
        const extra = dir === 'ingress' ? inRule : egRule;
        const before = parse(objs);
        const after = parse(withRule(objs, i, dir, extra));
        for (const [f, r] of flows) {
          const a = decide(before, f, r.input);
          const b = decide(after, f, r.input);
          if (a.allowed) assert.ok(b.allowed, `adding ${JSON.stringify(extra)} to ${dir} denied ${say(f, r, b)}`);
        }
      }),
      RUNS,
    );
  });

  it('adding a deny rule never allows more', () => {
    fc.assert(
      fc.property(policySet.filter((s) => s.length > 0), fc.nat(), dirArb, rule('ingress', true), rule('egress', true), traffic, (objs, n, dir, inRule, egRule, flows) => {
        const i = n % objs.length;
        const before = parse(objs);
        const after = parse(withRule(objs, i, `${dir}Deny`, dir === 'ingress' ? inRule : egRule));
        for (const [f, r] of flows) {
          const a = decide(before, f, r.input);
          const b = decide(after, f, r.input);
          if (b.allowed) assert.ok(a.allowed, `adding a deny allowed ${say(f, r, b)}`);
        }
      }),
      RUNS,
    );
  });

  it('a deny of everything denies every flow to a selected endpoint', () => {
    const denyAll = { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'deny-all' }, spec: { endpointSelector: {}, ingressDeny: [{ fromEntities: ['all'] }] } };
    fc.assert(
      fc.property(policySet, traffic, (objs, flows) => {
        const ps = parse([...objs, denyAll]);
        for (const [f, r] of flows) {
          const v = decide(ps, f, r.input);
          if (f.dst.kind === 'endpoint') assert.ok(!v.allowed && (v.reason === 'deny-rule' || v.deniedBy === 'egress'), say(f, r, v));
        }
      }),
      RUNS,
    );
  });

  it('a request matching an http rule of an applicable allow is allowed unless a deny or the other direction says no', () => {
    fc.assert(
      fc.property(policySet, traffic, (objs, flows) => {
        const ps = parse(objs);
        for (const [f, r] of flows) {
          const v = decide(ps, f, r.input);
          for (const dir of ['ingress', 'egress'] as const) {
            const other = dir === 'ingress' ? 'egress' : 'ingress';
            const excused = v.allowed || v.reason === 'deny-rule' || v.deniedBy === other;
            if (applicableAllow(ps, f, r.input, dir)) assert.ok(excused, `${dir} allow applies, yet ${say(f, r, v)}`);
          }
        }
      }),
      RUNS,
    );
  });

  it('without policies everything is allowed, whatever the request looks like', () => {
    fc.assert(
      fc.property(traffic, (flows) => {
        for (const [f, r] of flows) {
          const v = decide([], f, r.input);
          assert.ok(v.allowed && v.reason === 'no-policy' && !v.inspected, say(f, r, v));
        }
      }),
      RUNS,
    );
  });

  it('decide() is deterministic, also across re-parsing the same policies', () => {
    fc.assert(
      fc.property(policySet, traffic, (objs, flows) => {
        const a = parse(objs);
        const b = parse(objs);
        for (const [f, r] of flows) {
          const x = JSON.stringify(decide(a, f, r.input));
          assert.equal(JSON.stringify(decide(a, f, r.input)), x);
          assert.equal(JSON.stringify(decide(b, f, r.input)), x);
        }
      }),
      RUNS,
    );
  });
});

/**
 * An allow rule of `dir` applies and either has no L7 part, or has an http rule the request
 * matches (an independent reading of docs/semantics.md, using only the peer/selector primitives).
 */
function applicableAllow(ps: readonly Policy[], f: Flow, input: L7Input | undefined, dir: Dir): boolean {
  const local = dir === 'ingress' ? f.dst : f.src;
  const remote = dir === 'ingress' ? f.src : f.dst;
  if (local.kind !== 'endpoint') return false;
  const owner = f.dst.kind === 'endpoint' ? f.dst.endpoint : null;
  const q = { port: f.dstPort, protocol: f.protocol, portOwner: owner };
  return ps.some((p) =>
    p.specs.some((s) => selectorMatches(s.endpointSelector, local.endpoint.labels) && s.rules.some((r) => r.section === dir && ruleAllows(r, remote, q, input))),
  );
}

function ruleAllows(r: Rule, remote: PeerRef, q: Parameters<typeof portMatches>[1], input: L7Input | undefined): boolean {
  if (!peerMatches(r.peer, remote)) return false;
  if (r.toPorts === null) return true;
  return r.toPorts.some((pr) => {
    if (pr.ports.length > 0 && !pr.ports.some((p) => portMatches(p, q))) return false;
    if (pr.http === null) return true;
    // an http rule can only be said to match a request that parsed
    return input?.kind === 'request' && pr.http.some((h) => matchHttpRule(h, input.request).ok);
  });
}
