// Flow records become Hubble flows with the right layer-4 section for each protocol.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { flowJsonLine, type FlowRecord } from '../../src/flow/build.ts';
import { hubbleDropReason, reasonName } from '../../src/replay/observe-flow.ts';
import { REASON } from '../../src/loader/index.ts';

const base: FlowRecord = {
  timeNs: 1_700_000_000_000_000_000n, nodeName: 'n', kind: 'l3l4', allowed: false, denyRule: true, direction: 'egress', isReply: false,
  src: { ip: '10.0.0.1', port: 5353, peer: { kind: 'world', ip: null } },
  dst: { ip: '10.0.0.2', port: 53, peer: { kind: 'world', ip: null } },
  policies: [],
};
const flow = (r: FlowRecord) => (JSON.parse(flowJsonLine(r)) as { flow: Record<string, any> }).flow;

it('TCP is the default, with its flags', () => {
  const f = flow({ ...base, tcpFlags: { SYN: true } });
  assert.deepEqual(f['l4'], { TCP: { source_port: 5353, destination_port: 53, flags: { SYN: true } } });
  assert.equal(f['Summary'], 'TCP Flags: SYN');
  assert.equal(f['drop_reason_desc'], 'POLICY_DENY');
});

it('UDP and SCTP get their own section, without TCP flags', () => {
  assert.deepEqual(flow({ ...base, protocol: 'UDP', tcpFlags: { SYN: true } })['l4'], { UDP: { source_port: 5353, destination_port: 53 } });
  assert.deepEqual(flow({ ...base, protocol: 'SCTP' })['l4'], { SCTP: { source_port: 5353, destination_port: 53 } });
  assert.equal(flow({ ...base, protocol: 'UDP' })['Summary'], 'UDP');
});

it('other protocols (ICMP...) have no l4 section', () => {
  assert.equal(flow({ ...base, protocol: 'OTHER' })['l4'], undefined);
});

it('stream-integrity drops name their own reason: Hubble drop reason and Summary', () => {
  const f = flow({ ...base, denyRule: false, dropReason: hubbleDropReason(REASON.SPOOFED_SOURCE), tcpFlags: { SYN: true }, summary: 'TCP Flags: SYN dropped: spoofed-source' });
  assert.equal(f['drop_reason_desc'], 'INVALID_SOURCE_IP');
  assert.equal(f['drop_reason'], 132);
  assert.equal(f['Summary'], 'TCP Flags: SYN dropped: spoofed-source');
  assert.equal(flow({ ...base, denyRule: false, dropReason: hubbleDropReason(REASON.INSERTION) })['drop_reason_desc'], 'CT_MISSING_TCP_ACK_FLAG');
  assert.equal(flow({ ...base, denyRule: false, dropReason: hubbleDropReason(REASON.RETRANSMISSION_DIFFERS) })['drop_reason_desc'], 'INVALID_PACKET_DROPPED');
  assert.equal(flow({ ...base, denyRule: false, dropReason: hubbleDropReason(REASON.L7_NO_RULE) })['drop_reason_desc'], 'POLICY_DENIED');
  assert.equal(reasonName(REASON.URGENT_DATA), 'urgent-data');
});

it('rate limits: a limited request drops with its own reason, a shadow pass is AUDIT', () => {
  const limited = flow({ ...base, allowed: false, denyRule: false, dropReason: hubbleDropReason(REASON.RATE_LIMITED) });
  assert.deepEqual([limited['verdict'], limited['drop_reason_desc'], limited['drop_reason']], ['DROPPED', 'L7BPF_RATE_LIMITED', 429]);
  assert.equal(reasonName(REASON.RATE_LIMITED), 'rate-limited');
  assert.equal(flow({ ...base, allowed: true, audit: true })['verdict'], 'AUDIT');
});
