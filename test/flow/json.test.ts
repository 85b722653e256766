// flowJsonLine writes protojson straight from the descriptor (src/flow/json.ts); it must print
// exactly what @bufbuild/protobuf's reflective toJson prints for the same flow, byte for byte,
// for every kind of flow record.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { flowJsonLine, flowMessage, type FlowRecord } from '../../src/flow/build.ts';
import { FlowSchema, registryForJson } from '../../src/flow/proto.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

function reflective(r: FlowRecord): string {
  const flow = toJson(FlowSchema, flowMessage(r), { useProtoFieldName: true, registry: registryForJson }) as JsonObject;
  return JSON.stringify({ flow, node_name: r.nodeName, time: flow['time'] });
}

const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const peer: fc.Arbitrary<PeerRef> = fc.oneof(
  fc.record({ name: word, namespace: word, identity: fc.integer({ min: 256, max: 65535 }), labels: fc.dictionary(word, word, { maxKeys: 3 }) })
    .map((e) => ({ kind: 'endpoint', endpoint: { ...e, ips: [] } as never, ip: null }) as PeerRef),
  fc.constantFrom<PeerRef>({ kind: 'world', ip: null } as never, { kind: 'reserved', entity: 'host' } as never, { kind: 'reserved', entity: 'remote-node' } as never),
);
const side = fc.record({ ip: fc.oneof(fc.ipV4(), fc.constantFrom('fd00::2', '::1')), port: fc.integer({ min: 0, max: 65535 }), peer });
const header = fc.tuple(fc.stringMatching(/^[A-Za-z:][a-z-]{0,8}$/), fc.string({ maxLength: 12 }));
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE'), target: fc.stringMatching(/^\/[a-z0-9/?=&]{0,16}$/),
  version: fc.constantFrom('HTTP/1.1' as const, 'HTTP/1.0' as const, 'HTTP/2' as const), headers: fc.array(header, { maxLength: 5 }),
});
const rule = fc.record({
  policy: word, namespace: fc.option(word, { nil: null }), section: fc.constantFrom('ingress' as const, 'egress' as const),
  source: fc.constant('p.yaml:1'), text: fc.constant(''), match: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
});
const record: fc.Arbitrary<FlowRecord> = fc.record({
  timeNs: fc.bigInt({ min: 1_000_000_000_000_000_000n, max: 2_000_000_000_000_000_000n }).chain((t) => fc.constantFrom(t, t - (t % 1_000_000_000n), t - (t % 1_000_000n), t - (t % 1000n))),
  nodeName: word, src: side, dst: side, kind: fc.constantFrom('l3l4' as const, 'l7-request' as const, 'l7-response' as const),
  allowed: fc.boolean(), denyRule: fc.boolean(), direction: fc.constantFrom('ingress' as const, 'egress' as const),
  protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const, 'OTHER' as const), isReply: fc.boolean(),
  tcpFlags: fc.dictionary(fc.constantFrom('SYN', 'ACK', 'FIN', 'RST', 'PSH'), fc.boolean(), { maxKeys: 3 }),
  request, status: fc.integer({ min: 0, max: 599 }), responseHeaders: fc.array(header, { maxLength: 4 }),
  latencyNs: fc.bigInt({ min: 0n, max: 10_000_000_000n }), policies: fc.array(rule, { maxLength: 3 }),
  dropReason: fc.constantFrom(133, 181, 132, 429), audit: fc.boolean(), summary: fc.string({ maxLength: 10 }),
}, { requiredKeys: ['timeNs', 'nodeName', 'src', 'dst', 'kind', 'allowed', 'denyRule', 'direction', 'isReply', 'policies'] });

it('flowJsonLine prints what the reflective toJson prints, for any flow record', () => {
  fc.assert(fc.property(record, (r) => {
    assert.equal(flowJsonLine(r), reflective(r));
  }), { numRuns: 2000 });
});
