// The map plan gives every address, through an LPM lookup, the selector bits the IR
// interpreter computes for that peer directly.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planMaps } from '../../src/plan/plan.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { selectorBits } from '../../codegen/ir/eval.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { resolveIp } from '../../src/verdict/peers.ts';
import { parseCidr, cidrContains } from '../../src/policy/cidr.ts';
import { parseIp } from '../../src/net/ip.ts';

const policy = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.0/24]}]
    - fromCIDRSet: [{cidr: 10.1.0.0/16, except: [10.1.1.0/24]}]
    - fromCIDR: [192.168.0.0/24, "2001:db8::/32"]
    - fromEntities: [world]
    - fromEntities: [cluster]
    - fromEndpoints: [{matchLabels: {app: frontend}}]
`;
const inventory = `
endpoints:
  - {name: frontend-1, labels: {app: frontend}, ips: [10.0.0.1, "fd00::1"]}
  - {name: backend-1, labels: {app: backend}, ips: [10.1.1.7]}
reserved:
  - {entity: host, ips: [10.9.9.9]}
`;

it('LPM(ipcache) + selectors == selectorBits for any address', () => {
  const ir = lower(parsePolicies(policy, 'p.yaml').policies);
  const inv = parseInventory(inventory, 'inv.yaml').inventory;
  const plan = planMaps(ir.selectors, inv);
  const table = plan.ipcache.map((e) => ({ cidr: parseCidr(e.cidr)!, identity: e.identity }));
  const bitsOf = new Map(plan.selectors.map((s) => [s.identity, s.selectors]));
  const lookup = (ip: string) => {
    const addr = parseIp(ip)!;
    const hits = table.filter((e) => cidrContains(e.cidr, addr)).sort((a, b) => b.cidr.prefix - a.cidr.prefix);
    return hits[0]?.identity ?? 2;
  };
  const octet = fc.integer({ min: 0, max: 255 });
  const v4 = fc.tuple(fc.constantFrom(10, 192, 8), fc.constantFrom(0, 1, 2, 168, 9), fc.constantFrom(0, 1, 3, 9), octet).map(([a, b, c, d]) => `${a}.${b}.${c}.${d}`);
  const v6 = fc.tuple(fc.constantFrom('2001:db8', 'fd00', '2001:db9'), fc.integer({ min: 0, max: 3 })).map(([p, n]) => `${p}::${n}`);
  fc.assert(
    fc.property(fc.oneof(v4, v6, fc.constantFrom('10.0.0.1', '10.1.1.7', '10.9.9.9', 'fd00::1')), (ip) => {
      const viaMaps = [...(bitsOf.get(lookup(ip)) ?? [])].sort((a, b) => a - b);
      const direct = [...selectorBits(ir, resolveIp(inv, ip))].sort((a, b) => a - b);
      assert.deepEqual(viaMaps, direct, ip);
    }),
    { numRuns: 500, seed: 3 },
  );
});
