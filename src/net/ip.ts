// IPv4/IPv6 text <-> bytes, shared by policies, inventory, simulator and loader.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddr {
  readonly bytes: Uint8Array;
  readonly text: string;
}

export function parseIp(s: string): IpAddr | null {
  if (isIPv4(s)) {
    const bytes = Uint8Array.from(s.split('.').map(Number));
    return { bytes, text: formatIp(bytes) };
  }
  if (isIPv6(s)) {
    const bytes = ipv6Bytes(s);
    return { bytes, text: formatIp(bytes) };
  }
  return null;
}

function ipv6Bytes(s: string): Uint8Array {
  let text = s;
  const out = new Uint8Array(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4?.[1]) {
    const b = v4[1].split('.').map(Number);
    tail = [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
    text = text.slice(0, -v4[1].length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (p: string) => (p ? p.split(':').map((h) => parseInt(h, 16)) : []);
  const hi = parse(head);
  const lo = rest === undefined ? [] : parse(rest);
  const words = [...hi, ...new Array<number>(8 - hi.length - lo.length).fill(0), ...lo];
  if (tail.length) words.splice(6, 2, ...tail);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0));
  // RFC 5952: compress the longest run (>= 2) of zero words
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
