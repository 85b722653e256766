// The fast runs (bpf-templates/l7_http1_runs.h) re-derive the full framer's decisions for the common
// bytes of a head; nothing but this test ties them to it. Every policy is built twice, as
// shipped and with L7_FAST_RUNS 0 (every byte through l7_h1_byte), and each generated
// connection (requests, pipelined pairs, strict-rule breakers, any segmentation) must give
// the same action per packet and the same events from both objects.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { DEFAULT_LIMITS, TEMPLATES_DIR, emitObject, renderPolicyHeader } from '../../codegen/emit/index.ts';
import { runClang } from '../../codegen/emit/clang.ts';
import { irJson, sha256 } from '../../codegen/emit/manifest.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import { parsePolicies, hasErrors, formatDiagnostic } from '../../src/policy/index.ts';
import { connPackets, describeActions, loadWorld, runKernel, type KernelRun, type KernelWorld } from '../helpers/kernel-world.ts';
import { WORLD_V4, WORLD_V6, connsFor, diffInventory, peerOf, policyYaml, requestArb, type Conn, type GenRequest } from '../helpers/kernel-gen.ts';

const skip = kernelSkip();
const SEED = 20261203;
const POLICIES = Number(process.env.L7BPF_FAST_PATH_POLICIES ?? 6);
const REQUESTS = Number(process.env.L7BPF_FAST_PATH_REQUESTS ?? 60);

/** The object without fast runs: the generated header plus the build flag. */
function buildSlow(ir: PolicyIR, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const header = renderPolicyHeader({ ir, hash: sha256(irJson(ir)), limits: DEFAULT_LIMITS });
  writeFileSync(join(dir, 'policy.h'), `${header}\n#define L7_FAST_RUNS 0\n`);
  runClang(TEMPLATES_DIR, dir);
  return join(dir, 'l7bpf.o');
}

/** One request, or two pipelined in one stream (the second's cuts are dropped). */
const streamArb: fc.Arbitrary<GenRequest> = fc.tuple(requestArb, fc.option(requestArb, { freq: 3 })).map(([a, b]) =>
  b === null ? a : { bytes: Buffer.concat([a.bytes, b.bytes]), splitAt: a.splitAt });

/** Events as comparable text: everything but the kernel's timestamp. */
const eventsText = (run: KernelRun): string[] =>
  run.events.map((e) => JSON.stringify({ ...e, ts_ns: undefined }, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));

describe('fast runs: the kernel with them == the kernel stepping every byte', { skip }, () => {
  const yamls = fc.sample(policyYaml, { seed: SEED, numRuns: POLICIES });
  const policies = yamls.map((y) => {
    const r = parsePolicies(y, 'fast-paths.yaml');
    if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
    return [...r.policies];
  });
  const tmp = mkdtempSync(join(tmpdir(), 'l7bpf-fast-'));
  let cases = 0;
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    console.log(`fast paths: ${cases} connections, ${POLICIES} policies`);
  });
  policies.forEach((pols, i) => {
    it(`policy ${i}`, () => {
      const ir = lower(pols);
      const fast = loadWorld(ir, emitObject(ir, join(tmp, `${i}-fast`)).objectPath, diffInventory, [WORLD_V4, WORLD_V6]);
      const slow = loadWorld(ir, buildSlow(ir, join(tmp, `${i}-slow`)), diffInventory, [WORLD_V4, WORLD_V6]);
      try {
        fc.assert(fc.property(connsFor(pols), streamArb, (conn: Conn, req: GenRequest) => {
          const client = peerOf(conn.client, conn.v6);
          const server = peerOf(conn.server, conn.v6);
          const packets = connPackets(client, server, conn.port, req.bytes, conn.v6, req.splitAt)!;
          const run = (w: KernelWorld): KernelRun => {
            w.reset();
            return runKernel(w, client, server, packets);
          };
          const a = run(fast);
          const b = run(slow);
          cases++;
          assert.deepEqual(a.actions, b.actions, `fast runs vs every byte, per packet:\n${describeActions(packets, a.actions, b.actions)}\nrequest ${JSON.stringify(Buffer.from(req.bytes).toString('latin1'))}\n${yamls[i]}`);
          assert.deepEqual(eventsText(a), eventsText(b), `events differ; request ${JSON.stringify(Buffer.from(req.bytes).toString('latin1'))}`);
        }), { seed: SEED + i, numRuns: REQUESTS });
      } finally {
        fast.close();
        slow.close();
      }
    });
  });
});
