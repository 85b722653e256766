// Spec cases as packets: a TCP connection from the case's source to its destination that
// carries the case's request, optionally split into segments. Shared by the simulator and
// kernel differential tests.
import { tcpConn, type FixturePacket } from '../../sim/index.ts';
import type { CaptureRecord } from '../../sim/index.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import type { SpecCase, SpecFile } from './spec-format.ts';
import { caseFlow, caseRequest } from './spec-eval.ts';

function addressOf(p: PeerRef, v6: boolean): string | null {
  if (p.kind === 'endpoint') return p.endpoint.ips.find((a) => a.text.includes(':') === v6)?.text ?? null;
  return p.ip && p.ip.text.includes(':') === v6 ? p.ip.text : null;
}

const fmt = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** Packets of the case's connection, or null when it cannot be expressed as packets. */
export function casePackets(spec: SpecFile, c: SpecCase, splitAt: readonly number[] = []): FixturePacket[] | null {
  const flow = caseFlow(spec, c);
  const req = caseRequest(c);
  if (flow.protocol !== 'TCP') return null;
  const v6 = (flow.dst.kind !== 'endpoint' && flow.dst.ip?.text.includes(':')) || (flow.src.kind !== 'endpoint' && flow.src.ip?.text.includes(':')) || false;
  const src = addressOf(flow.src, v6);
  const dst = addressOf(flow.dst, v6);
  if (!src || !dst) return null;
  const conn = tcpConn({ client: fmt(src, 40000), server: fmt(dst, flow.dstPort) }).handshake();
  if (req.kind !== 'none') conn.send(req.bytes, { splitAt });
  return [...conn.close().list];
}

export function records(packets: readonly FixturePacket[]): CaptureRecord[] {
  return packets.map((p, i) => ({ ts: p.ts, linkType: 1, data: p.frame, origLen: p.frame.length, offset: i, interfaceId: 0 }));
}
