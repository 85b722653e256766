// Filling the policy maps the kernel decides with: ipcache (prefix -> identity) and
// selectors (identity -> bitset of selector indices). Key/value layouts come from
// codegen/emit/layouts.ts, the definition the templates' structs are generated from too.
import { isIPv4 } from 'node:net';
import { parseIp } from '../net/ip.ts';
import type { Libbpf } from './types.ts';
import { CONFIG_SIZE, encodeConfig, encodeIface, encodeIpcacheKey, encodeIpcacheVal, IFACE_ADDRS } from './layouts.generated.ts';
import { ANSWER_MODE_VALUE, type AnswerMode } from '../net/answers.ts';
import type { IpcacheEntry, SelectorBits } from '../plan/plan.ts';

export type { IpcacheEntry, SelectorBits };
import { type LoadedObject, mapOf } from './object.ts';

export class MapKeyError extends Error {
  constructor(what: string, hint: string) {
    super(`loader: ${what} (hint: ${hint})`);
    this.name = 'MapKeyError';
  }
}

/** 16 address bytes; IPv4 as ::ffff:a.b.c.d, as the datapath stores it. */
export function addrBytes(ip: string): Uint8Array {
  const a = parseIp(ip);
  if (!a) throw new MapKeyError(`"${ip}" is not an IP address`, 'use a.b.c.d or an IPv6 address');
  if (a.bytes.length === 16) return a.bytes;
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.bytes]);
}

/** struct l7_ipcache_key of a CIDR (v4 prefix lengths + 96). */
export function ipcacheKey(cidr: string): Buffer {
  const [ip = '', len] = cidr.split('/');
  const v4 = isIPv4(ip);
  const max = v4 ? 32 : 128;
  const plen = len === undefined ? max : Number(len);
  if (!Number.isInteger(plen) || plen < 0 || plen > max) throw new MapKeyError(`bad prefix length in "${cidr}"`, `0..${max}`);
  return encodeIpcacheKey({ prefixlen: v4 ? plen + 96 : plen, addr: addrBytes(ip) });
}

export function selectorValue(selectors: readonly number[], valueSize: number): Buffer {
  const v = Buffer.alloc(valueSize);
  for (const s of selectors) {
    if (s < 0 || s >= valueSize * 8) throw new MapKeyError(`selector ${s} does not fit ${valueSize * 8} bits`, 'the object was built for fewer selectors');
    v[s >> 3] = (v[s >> 3] ?? 0) | (1 << (s & 7));
  }
  return v;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

function update(lib: Libbpf, fd: number, key: Uint8Array, value: Uint8Array, what: string): void {
  const r = lib.mapUpdate(fd, key, value, 0);
  if (r !== 0) throw new MapKeyError(`${what}: bpf_map_update_elem failed (errno ${-r})`, 'map full, or not running as root');
}

export function fillIpcache(obj: LoadedObject, entries: readonly IpcacheEntry[]): void {
  const m = mapOf(obj, 'ipcache');
  for (const e of entries) update(obj.lib, m.fd, ipcacheKey(e.cidr), encodeIpcacheVal({ identity: e.identity }, m.valueSize), `ipcache ${e.cidr}`);
}

export function fillSelectors(obj: LoadedObject, entries: readonly SelectorBits[]): void {
  const m = mapOf(obj, 'selectors');
  for (const e of entries) update(obj.lib, m.fd, u32(e.identity), selectorValue(e.selectors, m.valueSize), `selectors ${e.identity}`);
}

export interface IfaceAddrs {
  readonly ifindex: number;
  /** The endpoint's addresses: a packet entering from its interface carries one of them. */
  readonly addrs: readonly string[];
}

export { IFACE_ADDRS };

/** struct l7_iface: up to IFACE_ADDRS addresses, then their number. */
export function ifaceValue(addrs: readonly string[], valueSize: number): Buffer {
  if (addrs.length > IFACE_ADDRS) throw new MapKeyError(`${addrs.length} addresses for one endpoint`, `source validation holds at most ${IFACE_ADDRS}`);
  const addr = new Uint8Array(16 * IFACE_ADDRS);
  addrs.forEach((a, i) => addr.set(addrBytes(a), 16 * i));
  return encodeIface({ addr, n: addrs.length }, valueSize);
}

/** Source validation: per endpoint interface, the addresses its packets may carry. */
export function fillIfaces(obj: LoadedObject, entries: readonly IfaceAddrs[]): void {
  const m = mapOf(obj, 'ifaces');
  for (const e of entries) update(obj.lib, m.fd, u32(e.ifindex), ifaceValue(e.addrs, m.valueSize), `ifaces ${e.ifindex}`);
}

/** Deploy-time settings (map l7cfg): how denials are answered, audit mode. Objects built before
 * it have no such map and reset (false is returned); objects built before audit mode have its
 * first fields only, and cannot audit. */
export function fillConfig(obj: LoadedObject, answer: AnswerMode, split = false, audit = false): boolean {
  const m = obj.maps.has('l7cfg') ? mapOf(obj, 'l7cfg') : null;
  if (audit && (m === null || m.valueSize < CONFIG_SIZE)) throw new Error('this object was built before audit mode: compile it again to deploy it with --audit');
  if (m === null) return false;
  const value = encodeConfig({ answer: ANSWER_MODE_VALUE[answer], split: split ? 1 : 0, audit: audit ? 1 : 0 }, Math.max(m.valueSize, CONFIG_SIZE));
  update(obj.lib, m.fd, u32(0), value.subarray(0, m.valueSize), 'l7cfg 0');
  return true;
}

/** Removes every entry of a hash/lru/lpm map (e.g. flows between test cases). */
export function clearMap(obj: LoadedObject, name: string): number {
  const m = mapOf(obj, name);
  const keys: Buffer[] = [];
  for (let k = obj.lib.mapNextKey(m.fd, null, m.keySize); k; k = obj.lib.mapNextKey(m.fd, k, m.keySize)) keys.push(k);
  for (const k of keys) obj.lib.mapDelete(m.fd, k);
  return keys.length;
}
