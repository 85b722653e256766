// Times and sizes as the command line writes them: `--since 5m` or an RFC 3339 time (as
// `hubble observe --since`; durations in Go's time.ParseDuration form), `--history-size 64MiB`,
// and the RFC 3339 `time` of a Hubble flow, to the nanosecond.

export class UnitError extends Error {
  override readonly name = 'UnitError';
}

const NS_PER: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)/;
const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Go's duration syntax: "300ms", "1.5h", "2h45m"; null when it is not one. */
export function parseDurationNs(text: string): bigint | null {
  let rest = text;
  let ns = 0;
  if (rest === '') return null;
  while (rest !== '') {
    const m = DURATION.exec(rest);
    if (!m) return null;
    const unit = /[a-zµμ]+$/.exec(m[0])![0];
    ns += Number(m[0].slice(0, -unit.length)) * NS_PER[unit]!;
    rest = rest.slice(m[0].length);
  }
  return BigInt(Math.round(ns));
}

/** An RFC 3339 time (fraction to the nanosecond) as ns since the epoch; null when malformed. */
export function parseRfc3339Ns(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]!.replace(/[t ]/, 'T')}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  const fraction = (m[2] ?? '.').slice(1).padEnd(9, '0').slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(fraction);
}

/** `--since`: a duration back from `nowNs`, or an RFC 3339 time. */
export function parseSince(text: string, nowNs: bigint): bigint {
  const d = parseDurationNs(text.trim());
  if (d !== null) return nowNs - d;
  const t = parseRfc3339Ns(text.trim());
  if (t !== null) return t;
  throw new UnitError(`--since ${JSON.stringify(text)}: expected a duration (5m, 1h30m, 90s) or an RFC 3339 time (2026-12-04T13:00:00Z)`);
}

const SIZE = /^(\d+)\s*(B|K|KiB|M|MiB|G|GiB)?$/i;
const SIZE_UNIT: Readonly<Record<string, number>> = { b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** "64MiB", "512K", "1048576" -> bytes (K, M, G are binary, as KiB, MiB, GiB). */
export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new UnitError(`size ${JSON.stringify(text)}: expected bytes with an optional unit (65536, 512KiB, 64MiB, 1GiB)`);
  return Number(m[1]) * SIZE_UNIT[(m[2] ?? 'b').toLowerCase()]!;
}

/** 1536 -> "1.5 KiB" (status). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${Number(v.toFixed(1))} ${units[i]}`;
}

/** ns since the epoch -> RFC 3339 with milliseconds (status). */
export function formatTimeNs(ns: string | bigint): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}
