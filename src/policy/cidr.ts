// CIDR parsing and containment over IPv4/IPv6 addresses as bytes.
import { parseIp, type IpAddr } from '../net/ip.ts';

export interface Cidr {
  readonly addr: IpAddr;
  readonly prefix: number;
  /** normalised text: `10.0.0.0/8` */
  readonly text: string;
}

export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const addr = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!addr) return null;
  const max = addr.bytes.length * 8;
  const prefixText = slash < 0 ? String(max) : s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  const prefix = Number(prefixText);
  return { addr, prefix, text: `${addr.text}/${prefix}` };
}

export function cidrContains(c: Cidr, ip: IpAddr): boolean {
  if (c.addr.bytes.length !== ip.bytes.length) return false;
  for (let bit = 0; bit < c.prefix; bit += 8) {
    const n = Math.min(8, c.prefix - bit);
    const mask = (0xff << (8 - n)) & 0xff;
    const i = bit >> 3;
    if (((c.addr.bytes[i] ?? 0) & mask) !== ((ip.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}
