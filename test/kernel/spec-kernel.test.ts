// Every spec case (test/spec/*.md) through the kernel: the policies compiled and loaded once
// per spec file, the inventory's identities in the maps, the case's connection played packet
// by packet through the programs a node would run (v4, and v6 where both ends have an
// address). Per-packet actions must equal the simulator's (oracle judge, same frames) and the
// kernel's verdict the oracle's, strict rule names included.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkip } from '../helpers/kernel.ts';
import { readSpecFile, type SpecCase, type SpecFile } from '../helpers/spec-format.ts';
import { caseFlow, caseRequest, evaluateCase, verdictText } from '../helpers/spec-eval.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { LowerError } from '../../codegen/ir/limits.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import {
  actionsAgree, buildObjects, loadWorld, comparable, connPackets, describeActions, kernelVerdict, runKernel, runSim, type KernelWorld,
} from '../helpers/kernel-world.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

const skip = kernelSkip();
const specDir = join(import.meta.dirname, '..', 'spec');
const specs = readdirSync(specDir).filter((f) => f.endsWith('.md')).sort().map((f) => readSpecFile(join(specDir, f)));
const tmp = mkdtempSync(join(tmpdir(), 'l7bpf-spec-kernel-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function worldIps(spec: SpecFile): string[] {
  const peers = spec.cases.flatMap((c) => {
    const f = caseFlow(spec, c);
    return [f.src, f.dst];
  });
  return peers.flatMap((p) => (p.kind === 'world' && p.ip ? [p.ip.text] : []));
}

const where = (c: SpecCase, v6: boolean) => `${c.file.split('/').pop()}:${c.line}: ${c.request || 'connection'} from ${c.from} to ${c.to}${v6 ? ' (IPv6)' : ''}`;

function checkCase(w: KernelWorld, spec: SpecFile, c: SpecCase, client: PeerRef, server: PeerRef, port: number, v6: boolean): boolean {
  const req = caseRequest(c);
  const packets = connPackets(client, server, port, req.kind === 'none' ? null : req.bytes, v6);
  if (!packets) return false;
  w.reset();
  const kernel = runKernel(w, client, server, packets);
  const sim = runSim(spec.policies, spec.inventory, packets);
  const oracle = evaluateCase(spec, c);
  const at = where(c, v6);
  const how = comparable(packets, kernel.actions);
  assert.ok(actionsAgree(kernel.actions, sim.actions, how), `${at}: kernel and simulator differ per packet:\n${describeActions(packets, kernel.actions, sim.actions)}`);
  const want = oracle.allowed ? 'allowed' : verdictText(oracle);
  assert.equal(kernelVerdict(kernel), want, `${at}: kernel ${kernelVerdict(kernel)}, oracle ${want} (${oracle.summary})`);
  return true;
}

/** Spec files the kernel cannot compile, with the reason (the oracle still covers them). */
function lowered(spec: SpecFile): PolicyIR | string {
  try {
    return lower(spec.policies);
  } catch (e) {
    if (e instanceof LowerError && /named port/.test(e.message)) return `named ports need the inventory (${e.message.split(': ').slice(1).join(': ')})`;
    throw e;
  }
}

describe('kernel == simulator == oracle on every spec case', { skip }, () => {
  const irs = specs.map(lowered);
  const objects = new Map<number, string>();
  before(async () => {
    const todo = irs.flatMap((ir, i) => (typeof ir === 'string' ? [] : [{ ir, i }]));
    const paths = await buildObjects(todo.map((t) => t.ir), tmp);
    todo.forEach((t, k) => objects.set(t.i, paths[k]!));
  });
  specs.forEach((spec, i) => {
    const ir = irs[i]!;
    const name = spec.file.split('/').pop() ?? spec.file;
    it(name, () => {
      // a policy with named ports cannot become an endpoint-agnostic object: compile says so
      if (typeof ir === 'string') return assert.match(ir, /^named ports need the inventory/);
      const w = loadWorld(ir, objects.get(i)!, spec.inventory, worldIps(spec));
      try {
        let ran = 0;
        for (const c of spec.cases) {
          const flow = caseFlow(spec, c);
          if (flow.protocol !== 'TCP') continue;
          for (const v6 of [false, true]) if (checkCase(w, spec, c, flow.src, flow.dst, flow.dstPort, v6)) ran++;
        }
        assert.ok(ran > 0 || spec.cases.every((c) => caseFlow(spec, c).protocol !== 'TCP'), `${spec.file}: no case ran`);
      } finally {
        w.close();
      }
    });
  });
});
