// The decoded packet as a reusable, mutable view (the replay hot path fills one per
// packet without allocating) plus the reasons a decode can fail.

export type DecodeErrorReason =
  | 'truncated-link'
  | 'unknown-link-type'
  | 'truncated-ip'
  | 'bad-ip-header'
  | 'truncated-tcp'
  | 'bad-tcp-header'
  | 'truncated-ext-header';

/** Where decoding stopped: `tcp` is a full TCP segment; the others say what the frame is. */
export type DecodeStatus = 'tcp' | 'not-ip' | 'not-tcp' | 'fragment' | 'error';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export class PacketView {
  status: DecodeStatus = 'error';
  error: DecodeErrorReason | null = null;
  /** Ethertype of the L3 payload (after VLAN tags), 0 when the link has none. */
  etherType = 0;
  vlans: number[] = [];
  ipVersion: 0 | 4 | 6 = 0;
  ipOff = 0;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  src4 = 0;
  dst4 = 0;
  /** Offsets of the 16-byte IPv6 addresses in `data`. */
  src6 = 0;
  dst6 = 0;
  /** IP protocol / IPv6 upper-layer next header. */
  proto = 0;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl = 0;
  l4Off = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  payloadOff = 0;
  payloadLen = 0;
  data: Uint8Array = new Uint8Array(0);

  reset(data: Uint8Array): void {
    this.status = 'error';
    this.error = null;
    this.etherType = 0;
    if (this.vlans.length) this.vlans = [];
    this.ipVersion = 0;
    this.proto = 0;
    this.payloadLen = 0;
    this.data = data;
  }

  fail(reason: DecodeErrorReason): DecodeStatus {
    this.error = reason;
    return (this.status = 'error');
  }
}
