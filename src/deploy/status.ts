// `status`: per deployment, what is attached where (checked against the kernel, not just
// the record), the object's sha256, the flow table and the event stream's counters.
import type { RateLimitIR } from '../../codegen/ir/types.ts';
import { describeLimit, tokensLeft } from '../verdict/ratelimit.ts';
import { closeSync, readFileSync } from 'node:fs';
import type { Libbpf } from '../loader/index.ts';
import { attachedProgId, HOOKS, pointName, slotOf } from './attach.ts';
import { pinPaths, pinned } from '../loader/index.ts';
import { listStates, type DeployState } from './state.ts';
import { DEFAULT_HISTORY_BYTES, History, historyDir, type HistoryStats } from '../observe/history.ts';
import { formatSize, formatTimeNs } from '../observe/units.ts';
import type { DeployEnv } from './deploy.ts';
import type { AnswerMode } from '../net/answers.ts';

/** Bytes per ring buffer record: 8-byte header + struct l7_event (144), 8-aligned. */
export const EVENT_RECORD_BYTES = 152;

export interface HookStatus {
  readonly iface: string;
  readonly pod: string;
  readonly hook: 'ingress' | 'egress';
  readonly program: string;
  /** program id on the hook now, 0 when nothing is attached at our slot */
  readonly attachedId: number;
  /** the attached program is the one this deployment pinned */
  readonly ours: boolean;
}

export interface DeploymentStatus {
  readonly name: string;
  readonly generation: number;
  readonly objectSha256: string;
  readonly objectPath: string;
  readonly deployedAt: string;
  /** how denials are answered */
  readonly answer: AnswerMode;
  /** audit mode (deploy --audit): denials pass, reported AUDIT */
  readonly audit: boolean;
  readonly hooks: readonly HookStatus[];
  readonly flows: { readonly total: number; readonly byKind: Readonly<Record<string, number>> } | null;
  /** records ever written to the ring buffer, and not yet read by an observer */
  readonly events: { readonly produced: number; readonly pending: number } | null;
  /** the current revision's datapath counters (null: not pinned, e.g. an older object) */
  readonly counters: DatapathCounters | null;
  /** per http rule with a rate limit: its requests limited, shadow passes, buckets and tokens */
  readonly rateLimits: readonly RateLimitStatus[];
  /** the flow history `observe` reads (entries, bytes, budget, oldest and newest times) */
  readonly history: HistoryStats;
  /** the network namespace its filters are attached in (src/deploy/netns.ts describeNetns) */
  readonly netns?: string;
}

export interface RateLimitStatus {
  readonly httpRule: number;
  /** `file:line` of the policy rule */
  readonly source: string;
  readonly limit: RateLimitIR;
  /** requests denied over the limit (shadow: passed over it) since this revision was deployed */
  readonly limited: number;
  readonly shadow: number;
  /** buckets in use, and the emptiest (at most STATUS_BUCKETS), tokens left now */
  readonly buckets: number;
  readonly emptiest: readonly { readonly subject: string; readonly tokens: number }[];
}

const STATUS_BUCKETS = 10;

export interface DatapathCounters {
  /** events the datapath could not write because the ring buffer was full */
  readonly eventsLost: number;
}

/** Index of each counter in the `counters` per-cpu array (L7_CNT_* in bpf-templates/l7_maps.h). */
export const COUNTER_INDEX = { eventsLost: 0 } as const;

// struct l7_flow kind byte (L7_FLOW_* in bpf-templates/l7_maps.h)
const FLOW_KINDS: Readonly<Record<number, string>> = { 0: 'none', 1: 'allow', 2: 'l7', 3: 'deny', 4: 'reset' };

export function deploymentStatus(lib: Libbpf, s: DeployState, env: DeployEnv): DeploymentStatus {
  const paths = pinPaths(env.pinRoot, s.name);
  const hooks: HookStatus[] = [];
  for (const i of s.ifaces) {
    for (const { point, prog } of HOOKS) {
      const fd = pinned(lib, paths.generation(s.generation).prog(prog));
      const mine = fd === null ? -1 : lib.progId(fd);
      if (fd !== null) closeQuietly(fd);
      const attachedId = lib.ifIndex(i.iface) === i.ifindex ? attachedProgId(lib, slotOf(i.ifindex, point, s.handle, s.priority)) : 0;
      hooks.push({ iface: i.iface, pod: i.pod, hook: pointName(point) as HookStatus['hook'], program: prog, attachedId, ours: attachedId !== 0 && attachedId === mine });
    }
  }
  return {
    name: s.name, generation: s.generation, objectSha256: s.objectSha256, objectPath: s.objectPath, deployedAt: s.deployedAt, answer: s.answer ?? 'reset', audit: s.audit === true,
    hooks, flows: mergeCounts(flowCounts(lib, paths.flows), flowCounts(lib, paths.l7flows)), events: eventCounts(lib, paths.events),
    counters: pinnedCounters(lib, paths.generation(s.generation).map('counters')),
    rateLimits: rateLimitStatus(lib, s, paths.buckets, paths.generation(s.generation).map('rl_counts')),
    history: new History(historyDir(env.stateDir, s.name), s.historyBytes ?? DEFAULT_HISTORY_BYTES).stats(),
  };
}

/** Rules with a limit in the kernel's order (the generated l7_rl_rules: by http rule index). */
function rateLimitStatus(lib: Libbpf, s: DeployState, bucketsPath: string, countsPath: string): RateLimitStatus[] {
  const limited = s.httpRules.filter((h) => h.rateLimit);
  if (limited.length === 0) return [];
  const counts = pinned(lib, countsPath);
  const buckets = readBuckets(lib, bucketsPath);
  const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, bpf_ktime_get_ns's clock
  try {
    return limited.map((h, i) => {
      const rl = h.rateLimit!;
      const mine = buckets.get(rl.id) ?? [];
      const tokens = mine.map((b) => ({ subject: subjectText(rl.per, b.subject), tokens: tokensLeft(rl, b.tat, now) })).sort((a, b) => a.tokens - b.tokens);
      return {
        httpRule: h.index, source: s.rules[h.rule]?.source ?? '?', limit: rl,
        limited: counts === null ? 0 : readPerCpuCounter(lib, counts, 2 * i), shadow: counts === null ? 0 : readPerCpuCounter(lib, counts, 2 * i + 1),
        buckets: mine.length, emptiest: tokens.slice(0, STATUS_BUCKETS),
      };
    });
  } finally {
    if (counts !== null) closeQuietly(counts);
  }
}

/** The bucket map by rule id (16 hex digits): subject and arrival time of each bucket. */
function readBuckets(lib: Libbpf, path: string): Map<string, { subject: bigint; tat: bigint }[]> {
  const out = new Map<string, { subject: bigint; tat: bigint }[]>();
  const fd = pinned(lib, path);
  if (fd === null) return out;
  try {
    for (let k = lib.mapNextKey(fd, null, 16); k; k = lib.mapNextKey(fd, k, 16)) {
      const v = lib.mapLookup(fd, k, 8);
      if (!v) continue;
      const id = k.readBigUInt64LE(0).toString(16).padStart(16, '0');
      out.set(id, [...(out.get(id) ?? []), { subject: k.readBigUInt64LE(8), tat: v.readBigUInt64LE(0) }]);
    }
  } finally {
    closeQuietly(fd);
  }
  return out;
}

function subjectText(per: RateLimitIR['per'], subject: bigint): string {
  return per === 'source' ? `identity ${subject}` : per === 'rule' ? 'everyone' : `connection ${subject.toString(16)}`;
}

export function allStatus(lib: Libbpf, env: DeployEnv): DeploymentStatus[] {
  return listStates(env.stateDir).map((s) => deploymentStatus(lib, s, env));
}

/** Both flow maps together (L7 flows live apart); a deployment from before has only `flows`. */
function mergeCounts(a: DeploymentStatus['flows'], b: DeploymentStatus['flows']): DeploymentStatus['flows'] {
  if (!a || !b) return a ?? b;
  const byKind: Record<string, number> = { ...a.byKind };
  for (const [k, n] of Object.entries(b.byKind)) byKind[k] = (byKind[k] ?? 0) + n;
  return { total: a.total + b.total, byKind };
}

function flowCounts(lib: Libbpf, path: string): DeploymentStatus['flows'] {
  const fd = pinned(lib, path);
  if (fd === null) return null;
  try {
    const info = lib.mapInfo(fd);
    if (!info) return null;
    const byKind: Record<string, number> = {};
    let total = 0;
    for (let k = lib.mapNextKey(fd, null, info.keySize); k; k = lib.mapNextKey(fd, k, info.keySize)) {
      const v = lib.mapLookup(fd, k, info.valueSize);
      const kind = FLOW_KINDS[v?.[0] ?? 0] ?? `kind ${v?.[0]}`;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      total++;
    }
    return { total, byKind };
  } finally {
    closeQuietly(fd);
  }
}

function eventCounts(lib: Libbpf, path: string): DeploymentStatus['events'] {
  const fd = pinned(lib, path);
  if (fd === null) return null;
  try {
    const p = lib.ringbufPositions(fd);
    if (!p) return null;
    return { produced: Number(p.producer / BigInt(EVENT_RECORD_BYTES)), pending: Number((p.producer - p.consumer) / BigInt(EVENT_RECORD_BYTES)) };
  } finally {
    closeQuietly(fd);
  }
}

/** CPUs a per-cpu map holds a value for: /sys/devices/system/cpu/possible ("0-3", "0,2-5"). */
export function possibleCpus(text = readFileSync('/sys/devices/system/cpu/possible', 'utf8')): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    if (lo === undefined || Number.isNaN(lo)) continue;
    n += (hi ?? lo) - lo + 1;
  }
  return Math.max(1, n);
}

/** Sum over CPUs of one u64 slot of a per-cpu array map (0 when the slot is unreadable). */
export function readPerCpuCounter(lib: Libbpf, fd: number, index: number, cpus = possibleCpus()): number {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(index);
  const v = lib.mapLookup(fd, key, 8 * cpus);
  if (!v) return 0;
  let sum = 0n;
  for (let c = 0; c < cpus && (c + 1) * 8 <= v.length; c++) sum += v.readBigUInt64LE(c * 8);
  return Number(sum);
}

/** The datapath counters of a loaded object's (or a pinned) `counters` map. */
export function readCounters(lib: Libbpf, fd: number): DatapathCounters {
  return { eventsLost: readPerCpuCounter(lib, fd, COUNTER_INDEX.eventsLost) };
}

function pinnedCounters(lib: Libbpf, path: string): DatapathCounters | null {
  const fd = pinned(lib, path);
  if (fd === null) return null;
  try {
    return readCounters(lib, fd);
  } finally {
    closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // fake fds in unit tests
  }
}

/** `history 120 entries, 48.2 KiB of 16 MiB, 2026-12-04T13:00:00.000Z .. 2026-12-04T13:05:00.000Z` */
export function historyLine(h: HistoryStats): string {
  const span = h.oldestNs && h.newestNs ? `, ${formatTimeNs(h.oldestNs)} .. ${formatTimeNs(h.newestNs)}` : '';
  return `  history ${h.entries} entries, ${formatSize(h.bytes)} of ${formatSize(h.budget)}${span}`;
}

export function formatStatus(list: readonly DeploymentStatus[]): string {
  if (list.length === 0) return 'no deployments\n';
  const out: string[] = [];
  for (const d of list) {
    out.push(`deployment ${d.name} (generation ${d.generation}, deployed ${d.deployedAt})`);
    if (d.netns) out.push(`  netns ${d.netns}`);
    out.push(`  object ${d.objectPath}`, `  sha256 ${d.objectSha256}`, `  denials ${d.audit ? 'audit mode: they pass, reported with verdict AUDIT' : d.answer === 'reset' ? 'reset both ways' : `answered (${d.answer})`}`);
    for (const h of d.hooks) {
      const what = h.attachedId === 0 ? 'NOT ATTACHED' : h.ours ? `prog id ${h.attachedId}` : `prog id ${h.attachedId} (NOT OURS)`;
      out.push(`  ${h.iface.padEnd(15)} tc ${h.hook.padEnd(7)} ${h.program.padEnd(12)} ${what}  (${h.pod})`);
    }
    const kinds = d.flows ? Object.entries(d.flows.byKind).map(([k, n]) => `${k} ${n}`).join(', ') : '';
    out.push(d.flows ? `  flows ${d.flows.total}${kinds ? ` (${kinds})` : ''}` : '  flows: map not pinned');
    out.push(historyLine(d.history));
    out.push(d.events ? `  events ${d.events.produced} written, ${d.events.pending} unread${d.counters ? `, ${d.counters.eventsLost} lost (ring buffer full)` : ''}` : '  events: map not pinned');
    for (const r of d.rateLimits) {
      out.push(`  rate limit ${describeLimit(r.limit)} (http rule ${r.httpRule}, ${r.source}): ${r.limited} limited, ${r.shadow} over in shadow mode, ${r.buckets} buckets`);
      for (const b of r.emptiest) out.push(`    ${b.subject}: ${b.tokens} of ${r.limit.burst} tokens`);
    }
  }
  return out.join('\n') + '\n';
}
