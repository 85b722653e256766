// A pcapng may hold several interfaces that saw the same packets: the client pod's veth and
// the server pod's veth, or a veth and the bridge behind it. On a node each packet crosses a
// policy hook once per endpoint, and replay judges the capture as one stream per connection,
// so a second copy from another interface is not a second packet: replaying it would meet a
// retransmission, or a connection the first copy already ended. Replay keeps, per flow
// (addresses, protocol, ports, either direction), the interface that saw its first packet and
// skips the copies from the others, counting them.
import type { CaptureRecord } from '../../sim/index.ts';
import { PacketView, decodeInto } from '../../sim/decode/index.ts';

/** flows whose interface is remembered; the oldest is forgotten (its next packet picks again) */
const MAX_FLOWS = 1 << 16;

export class OneInterfacePerFlow {
  private readonly view = new PacketView();
  private readonly first = new Map<string, number>();
  /** records skipped: seen first on another interface */
  skipped = 0;

  /** `active`: the capture can hold several interfaces (a pcapng); a pcap has one, nothing to decode */
  constructor(private readonly active: boolean) {}

  /** The capture holds several interfaces: a pcapng whose first blocks (`head`, its first bytes)
   * describe two or more. A pcap, or a pcapng of one interface, has nothing to sort out, and
   * replay then decodes nothing here. */
  static severalInterfaces(head: Uint8Array): boolean {
    if (head.length < 12 || head[0] !== 0x0a || head[1] !== 0x0d || head[2] !== 0x0d || head[3] !== 0x0a) return false;
    const dv = new DataView(head.buffer, head.byteOffset, head.length);
    const little = dv.getUint32(8, true) === 0x1a2b3c4d;
    let interfaces = 0;
    // interface description blocks (type 1) come before the packets that name them
    for (let at = 0; at + 8 <= head.length;) {
      const type = dv.getUint32(at, little);
      const len = dv.getUint32(at + 4, little);
      if (type === 1) interfaces++;
      else if (type !== 0x0a0d0d0a) break;
      if (len < 12) break;
      at += len;
    }
    return interfaces > 1;
  }

  /** true: replay the record; false: a copy from another interface of its flow */
  keep(rec: CaptureRecord): boolean {
    if (!this.active) return true;
    const key = this.flowKey(rec);
    if (key === null) return true;
    const iface = this.first.get(key);
    if (iface === undefined) {
      if (this.first.size >= MAX_FLOWS) this.first.delete(this.first.keys().next().value!);
      this.first.set(key, rec.interfaceId);
      return true;
    }
    if (iface === rec.interfaceId) return true;
    this.skipped++;
    return false;
  }

  /** addresses, protocol and ports, the same in both directions; null when not IP */
  private flowKey(rec: CaptureRecord): string | null {
    const v = this.view;
    const status = decodeInto(v, rec.linkType, rec.data);
    if (status !== 'tcp' && status !== 'not-tcp') return null;
    const a = v.ipVersion === 4 ? String(v.src4) : addr6(v.data, v.src6);
    const b = v.ipVersion === 4 ? String(v.dst4) : addr6(v.data, v.dst6);
    // ports only where decodeInto read them (TCP); other protocols key on addresses alone
    const pa = status === 'tcp' ? v.sport : 0;
    const pb = status === 'tcp' ? v.dport : 0;
    const one = `${a}/${pa}`;
    const two = `${b}/${pb}`;
    return `${v.proto} ${one < two ? `${one} ${two}` : `${two} ${one}`}`;
  }
}

function addr6(d: Uint8Array, off: number): string {
  return Buffer.from(d.buffer, d.byteOffset + off, 16).toString('hex');
}
