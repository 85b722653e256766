// kernel == simulator == oracle on random policies x random requests x random segmentation.
// 40 policies (built in parallel, loaded one at a time) x 50 seeded requests each. A request
// is played as one connection through the programs a node would run; the kernel's per-packet
// actions must equal the simulator's and its verdict (strict rule names included) the
// oracle's, and a strict violation is decided on the packet where a streaming parser meets it
// (docs/datapath.md, stream rule: the decision point). A failure prints a ready-to-paste spec case (test/spec format).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { fillConfig } from '../../src/loader/index.ts';
import { lower } from '../../codegen/ir/lower.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import { parsePolicies, hasErrors, formatDiagnostic, type Policy } from '../../src/policy/index.ts';
import { decide, parseRequestHead, type L7Input, type Verdict } from '../../src/verdict/index.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import { judgedText } from '../helpers/spec-eval.ts';
import { annotateAudit } from '../helpers/audit-world.ts';
import {
  actionsAgree, buildObjects, comparable, connPackets, describeActions, kernelVerdict, loadWorld, runKernel, runSim, type Action, type KernelWorld,
} from '../helpers/kernel-world.ts';
import { DIFF_ENDPOINTS, WORLD_V4, WORLD_V6, connsFor, diffInventory, peerOf, policyYaml, requestArb, type Conn, type GenRequest, type PeerName } from '../helpers/kernel-gen.ts';

const inv = diffInventory;
import type { FixturePacket } from '../../sim/index.ts';

const skip = kernelSkip();
const SEED = 20240611;
const POLICIES = 40;
const REQUESTS = 50;

function parse(yaml: string): Policy[] {
  const r = parsePolicies(yaml, 'differential.yaml');
  if (hasErrors(r.diagnostics)) throw new Error(`generated policy does not parse:\n${r.diagnostics.map(formatDiagnostic).join('\n')}\n${yaml}`);
  return [...r.policies];
}

/** What the cases covered (printed, so a generator change that stops reaching a verdict shows). */
const seen = new Map<string, number>();

interface Expected {
  readonly verdict: string;
  readonly actions: Action[];
  readonly oracle: Verdict;
}

/**
 * The oracle fed the head as a streaming parser sees it: the first client packet whose prefix
 * breaks a rule, and the rule of the shortest prefix that does.
 */
function streamDetection(packets: readonly FixturePacket[], bytes: Uint8Array, splitAt: readonly number[]): { packet: number; rule: string } | null {
  const ends = [...splitAt, bytes.length];
  const dataPackets = packets.map((p, i) => ({ p, i })).filter(({ p }) => p.from === 'client' && p.description.startsWith('client data'));
  let from = 0;
  for (let k = 0; k < ends.length && k < dataPackets.length; k++) {
    const head = parseRequestHead(bytes.subarray(0, ends[k]));
    if (head.kind === 'ok') return null;
    if (head.kind === 'violation') {
      for (let n = from + 1; n <= ends[k]!; n++) {
        const h = parseRequestHead(bytes.subarray(0, n));
        if (h.kind === 'violation') return { packet: dataPackets[k]!.i, rule: h.violation.rule };
      }
    }
    from = ends[k]!;
  }
  return null;
}

/**
 * What the kernel must do per packet: the simulator's actions; for a strict violation they are
 * first checked against the design: the oracle fed growing prefixes names the same rule, and the
 * simulator resets on the packet where that rule is first broken.
 */
function designActions(policies: readonly Policy[], client: PeerRef, server: PeerRef, port: number, req: GenRequest, packets: readonly FixturePacket[], sim: readonly Action[], audit: boolean): Expected {
  const head = parseRequestHead(req.bytes);
  const input: L7Input | undefined = head.kind === 'ok' ? { kind: 'request', request: head.request } : head.kind === 'violation' ? { kind: 'violation', violation: head.violation } : undefined;
  const oracle = decide(policies, { src: client, dst: server, dstPort: port, protocol: 'TCP' }, input, { audit });
  const strict = oracle.reason === 'strict' && oracle.violation !== null && !oracle.audit;
  const det = strict ? streamDetection(packets, req.bytes, mssCuts(req)) : null;
  if (!strict || !det) return { verdict: expectedText(oracle), actions: [...sim], oracle };
  // the oracle on the whole head names the rule a streaming parser meets first, and the
  // simulator resets on the packet where it is met (docs/datapath.md, stream rule: the decision point)
  assert.equal(det.rule, oracle.violation!.rule, 'the oracle names the first rule a streaming parser meets');
  assert.equal(sim.findIndex((a) => a === 'reset' || a === 'answer' || a === 'trim'), det.packet, 'the simulator denies where a streaming parser detects the rule');
  return { verdict: `denied strict:${det.rule}`, actions: [...sim], oracle };
}

/** The oracle's verdict as kernelVerdict words it: a denial; else an audited one, the
 * connection's (an L3/L4 denial an audited direction let pass, met first) before the request's. */
function expectedText(oracle: Verdict): string {
  const l4 = oracle.allowed && oracle.directions.find((d) => d.audit && !d.allowed);
  return l4 ? `audited ${l4.reason}` : judgedText(oracle);
}

/** The segment boundaries connPackets uses (the request's cuts plus MSS cuts). */
function mssCuts(req: GenRequest): number[] {
  const mss = Array.from({ length: Math.floor((req.bytes.length - 1) / 1448) }, (_, i) => (i + 1) * 1448);
  return [...new Set([...req.splitAt, ...mss])].filter((x) => x > 0 && x < req.bytes.length).sort((a, b) => a - b);
}

function specCase(yaml: string, conn: { client: PeerName; server: PeerName; port: number; v6: boolean }, req: GenRequest, verdict: string): string {
  const name = (p: PeerName) => (p === 'world' ? (conn.v6 ? WORLD_V6 : WORLD_V4) : p);
  const to = conn.server === 'world' && conn.v6 ? `[${WORLD_V6}]:${conn.port}` : `${name(conn.server)}:${conn.port}`;
  const request = JSON.stringify(Buffer.from(req.bytes).toString('latin1')).replace(/\|/g, '\\|');
  return `# differential: kernel, simulator and oracle disagree

Found by test/kernel/differential.test.ts (seed ${SEED})${req.splitAt.length ? `; the request was split at bytes ${req.splitAt.join(', ')}` : ''}${conn.v6 ? '; over IPv6' : ''}.

\`\`\`yaml policy
${yaml}
\`\`\`

\`\`\`yaml endpoints
${DIFF_ENDPOINTS}
\`\`\`

| from | to | request | expect |
|---|---|---|---|
| ${name(conn.client)} | ${to} | \`${request}\` | ${verdict} |
`;
}

function check(w: KernelWorld, yaml: string, policies: readonly Policy[], conn: { client: PeerName; server: PeerName; port: number; v6: boolean }, req: GenRequest, audit: boolean): void {
  const client = peerOf(conn.client, conn.v6);
  const server = peerOf(conn.server, conn.v6);
  const packets = connPackets(client, server, conn.port, req.bytes, conn.v6, req.splitAt)!;
  w.reset();
  const kernel = runKernel(w, client, server, packets);
  const sim = runSim(policies, inv, packets, true, true, audit);
  const want = designActions(policies, client, server, conn.port, req, packets, sim.actions, audit);
  const got = kernelVerdict(kernel);
  seen.set(want.verdict, (seen.get(want.verdict) ?? 0) + 1);
  const same = got === want.verdict && actionsAgree(kernel.actions, want.actions, comparable(packets, kernel.actions));
  if (!same) {
    assert.fail(`kernel ${got}, oracle ${want.verdict} (${want.oracle.summary})${audit ? '; the deployment in audit mode (deploy --audit)' : ''}; per packet:\n${describeActions(packets, kernel.actions, sim.actions, want.actions)}\n\n${specCase(yaml, conn, req, want.verdict)}`);
  }
}

/** The audit dimension: which of a set's policies carry the audit annotation, and whether the
 * deployment audits (l7cfg); sampled apart from the policies, so their sample stays as it was. */
const someAudit = fc.record({ annotate: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }), deploy: fc.boolean() }, { requiredKeys: [] })
  .map((a) => ({ annotate: a.annotate ?? [], deploy: a.deploy === true }));
// one policy set in three has an audit dimension: the others keep the enforced denials' share
const auditArb = fc.oneof({ weight: 2, arbitrary: fc.constant({ annotate: [] as number[], deploy: false }) }, { weight: 1, arbitrary: someAudit });

describe('differential: kernel == simulator == oracle on random policies and requests', { skip }, () => {
  const audits = fc.sample(auditArb, { seed: SEED + 1, numRuns: POLICIES });
  const yamls = fc.sample(policyYaml, { seed: SEED, numRuns: POLICIES }).map((y, i) => annotateAudit(y, audits[i]!.annotate.map((k) => `p${k}`)));
  const policies = yamls.map(parse);
  const irs: PolicyIR[] = policies.map((p) => lower(p));
  const tmp = mkdtempSync(join(tmpdir(), 'l7bpf-diff-'));
  let paths: string[] = [];
  before(async () => {
    paths = await buildObjects(irs, tmp);
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    console.log(`differential: ${POLICIES * REQUESTS} cases; verdicts ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  });
  yamls.forEach((yaml, i) => {
    it(`policy ${i}`, () => {
      const w = loadWorld(irs[i]!, paths[i]!, inv, [WORLD_V4, WORLD_V6]);
      const audit = audits[i]!.deploy;
      if (audit) fillConfig(w.obj, 'auto', false, true);
      try {
        fc.assert(fc.property(connsFor(policies[i]!), requestArb, (conn, req) => check(w, yaml, policies[i]!, conn, req, audit)), { seed: SEED + i, numRuns: REQUESTS });
      } finally {
        w.close();
      }
    });
  });
});
