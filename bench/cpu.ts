// CPU counters of the benches: bpf_stats of the tc programs attached on a topology's node
// (bpftool), and utime+stime of processes (/proc/PID/stat). Each bench reads them around a
// load run and divides by the requests the load completed.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { run, type Topology } from '../test/helpers/netns.ts';

/** Cumulative CPU counters: ns, and program runs (0 for processes); for programs, also by program name. */
export interface Counters {
  readonly ns: number;
  readonly runs: number;
  readonly byName?: Readonly<Record<string, { readonly ns: number; readonly runs: number }>>;
}
export type Reader = () => Counters;
export const UNAVAILABLE: Reader = () => ({ ns: NaN, runs: NaN });

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
export const hasBpftool = (): boolean => spawnSync('bpftool', ['version']).status === 0;

/** `sysctl -w kernel.bpf_stats_enabled=1`; returns what puts the previous value back (also on SIGINT/SIGTERM). */
export function enableBpfStats(): () => void {
  const previous = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    writeFileSync(STATS, previous);
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  };
  const onInt = () => (restore(), process.exit(130));
  const onTerm = () => (restore(), process.exit(143));
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  return restore;
}

/** Ids of the programs on the tc hooks of the node's interfaces (every veth, both hooks). */
function attachedProgIds(t: Topology): number[] {
  const net = JSON.parse(run('ip', ['netns', 'exec', t.node, 'bpftool', 'net', 'show', '-j'])) as { tc?: { id: number }[] }[];
  return [...new Set(net.flatMap((n) => n.tc ?? []).map((p) => p.id))];
}

/**
 * bpf_stats of the programs attached on the node now. NaN when stats were off at a read (the
 * sysctl is global: another process may have reset it); they are switched on again.
 */
export function kernelReader(t: Topology): Reader {
  if (!hasBpftool()) return UNAVAILABLE;
  const ids = attachedProgIds(t);
  if (ids.length === 0) throw new Error('bench: no tc program attached on the node');
  return () => {
    if (readFileSync(STATS, 'utf8').trim() !== '1') {
      console.error('bench: kernel.bpf_stats_enabled was reset by someone else; sample dropped');
      writeFileSync(STATS, '1');
      return UNAVAILABLE();
    }
    let ns = 0, runs = 0;
    const byName: Record<string, { ns: number; runs: number }> = {};
    for (const id of ids) {
      const p = JSON.parse(run('bpftool', ['prog', 'show', 'id', String(id), '-j'])) as { name: string; run_time_ns?: number; run_cnt?: number };
      const one = { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 }; // bpftool leaves out zero counters
      const sum = (byName[p.name] ??= { ns: 0, runs: 0 });
      sum.ns += one.ns;
      sum.runs += one.runs;
      ns += one.ns;
      runs += one.runs;
    }
    return { ns, runs, byName };
  };
}

/** Fields of /proc/PID/stat after the command name: [1] ppid, [11] utime, [12] stime (clock ticks). */
export function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // gone meanwhile
  }
}

export function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d) && statFields(Number(d))?.[1] === String(pid)).map(Number);
}

/** utime+stime of the workers of the nginx whose master wrote `pidFile`. */
export function workerReader(pidFile: string): Reader {
  const workers = childrenOf(Number(readFileSync(pidFile, 'utf8').trim()));
  if (workers.length === 0) throw new Error(`bench: no worker of the nginx in ${pidFile}`);
  return processReader(workers);
}

/** utime+stime of these processes (all their threads). */
export function processReader(pids: readonly number[]): Reader {
  const nsPerTick = 1e9 / Number(run('getconf', ['CLK_TCK']).trim());
  return () => {
    let ticks = 0;
    for (const pid of pids) {
      const f = statFields(pid);
      if (!f) throw new Error(`bench: process ${pid} is gone`);
      ticks += Number(f[11]) + Number(f[12]);
    }
    return { ns: ticks * nsPerTick, runs: 0 };
  };
}

/** CPU per completed request over one wrk run. */
export type PerRequest = Counters;

export function perRequest(before: Counters, after: Counters, requests: number): PerRequest {
  const byName = Object.fromEntries(Object.entries(after.byName ?? {}).map(([name, a]) => {
    const b = before.byName?.[name] ?? { ns: 0, runs: 0 };
    return [name, { ns: (a.ns - b.ns) / requests, runs: (a.runs - b.runs) / requests }];
  }));
  return { ns: (after.ns - before.ns) / requests, runs: (after.runs - before.runs) / requests, byName };
}

