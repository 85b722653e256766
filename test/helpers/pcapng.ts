// A pcapng file built in memory (little-endian, microsecond timestamps): a section header,
// one interface description block per interface, one enhanced packet block per frame.
export interface PcapngFrame {
  readonly iface: number;
  /** ns since the epoch */
  readonly ts: bigint;
  readonly data: Uint8Array;
}

function block(type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, len, true);
  out.set(body, 8);
  dv.setUint32(len - 4, len, true);
  return out;
}

function u32s(...xs: number[]): Uint8Array {
  const out = new Uint8Array(xs.length * 4);
  const dv = new DataView(out.buffer);
  xs.forEach((x, i) => dv.setUint32(i * 4, x >>> 0, true));
  return out;
}

export function pcapngBytes(linkTypes: readonly number[], frames: readonly PcapngFrame[]): Uint8Array {
  const shb = block(0x0a0d0d0a, new Uint8Array([...u32s(0x1a2b3c4d), 1, 0, 0, 0, ...u32s(0xffffffff, 0xffffffff)]));
  const idbs = linkTypes.map((lt) => block(1, u32s(lt & 0xffff, 65535)));
  const epbs = frames.map((f) => {
    const us = f.ts / 1000n;
    const head = u32s(f.iface, Number(us >> 32n), Number(us & 0xffffffffn), f.data.length, f.data.length);
    const body = new Uint8Array(head.length + f.data.length);
    body.set(head);
    body.set(f.data, head.length);
    return block(6, body);
  });
  const parts = [shb, ...idbs, ...epbs];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
