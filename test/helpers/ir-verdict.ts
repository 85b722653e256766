// The verdict lower()+IR interpretation gives a flow/request: the kernel's decision procedure
// in TypeScript, to compare with the oracle.
import { decideIR, requestAllowedIR, selectorBits } from '../../codegen/ir/eval.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import type { Flow, L7Input } from '../../src/verdict/types.ts';

export function irAllowed(ir: PolicyIR, flow: Flow, input: L7Input | undefined): boolean {
  const src = selectorBits(ir, flow.src);
  const dst = selectorBits(ir, flow.dst);
  const decisions = [];
  if (flow.src.kind === 'endpoint') decisions.push(decideIR(ir, 'egress', src, dst, flow.dstPort, flow.protocol));
  if (flow.dst.kind === 'endpoint') decisions.push(decideIR(ir, 'ingress', dst, src, flow.dstPort, flow.protocol));
  if (decisions.some((d) => d.kind === 'deny')) return false;
  if (input === undefined) return true;
  for (const d of decisions) {
    if (d.kind !== 'l7') continue;
    if (input.kind === 'violation') return false;
    if (!requestAllowedIR(ir, d.httpRules, input.request)) return false;
  }
  return true;
}
