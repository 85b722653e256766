// The verdict lower()+IR interpretation gives a flow/request: the kernel's decision procedure
// in TypeScript, to compare with the oracle.
import { decideIR, requestAllowedIR, selectorBits } from '../../codegen/ir/eval.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import type { Flow, L7Input } from '../../src/verdict/types.ts';

export function irAllowed(ir: PolicyIR, flow: Flow, input: L7Input | undefined, deployAudit = false): boolean {
  return irOutcome(ir, flow, input, deployAudit) !== 'denied';
}

/** As the oracle's verdict: denied, allowed, or audit (a denial an audited direction let pass;
 * an L3/L4 one counts for the connection, not for a request another direction judges). */
export function irOutcome(ir: PolicyIR, flow: Flow, input: L7Input | undefined, deployAudit = false): 'allowed' | 'audit' | 'denied' {
  const src = selectorBits(ir, flow.src);
  const dst = selectorBits(ir, flow.dst);
  const decisions = [];
  if (flow.src.kind === 'endpoint') decisions.push(decideIR(ir, 'egress', src, dst, flow.dstPort, flow.protocol, deployAudit));
  if (flow.dst.kind === 'endpoint') decisions.push(decideIR(ir, 'ingress', dst, src, flow.dstPort, flow.protocol, deployAudit));
  const denies = decisions.filter((d) => d.kind === 'deny');
  if (denies.some((d) => !d.audit)) return 'denied';
  const l7 = decisions.flatMap((d) => (d.kind === 'l7' ? [d] : []));
  if (input === undefined || l7.length === 0) return denies.length ? 'audit' : 'allowed';
  let audit = false;
  for (const d of l7) {
    if (input.kind === 'request' && requestAllowedIR(ir, d.httpRules, input.request)) continue;
    if (!d.audit) return 'denied';
    audit = true;
  }
  return audit ? 'audit' : 'allowed';
}
