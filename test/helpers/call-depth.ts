// The deepest chain of BPF-to-BPF calls in an object, with frames rounded as Linux 6.1's
// verifier rounds them (32 bytes; check_max_stack_depth): a bound the host's newer verifier
// (16-byte rounding) does not enforce. Read from llvm-objdump: each function's frame is the
// deepest r10 offset it touches; calls are R_BPF_64_32 relocations, and a function whose
// address is loaded (R_BPF_64_64 against .text: a bpf_loop callback) counts as called there.
import { spawnSync } from 'node:child_process';

export const FRAME_ROUND = 32;
export const MAX_STACK = 512;

export interface Chain {
  readonly bytes: number;
  /** "function:rounded frame", from the program down */
  readonly frames: readonly string[];
}

function objdump(args: string[]): string {
  const r = spawnSync('llvm-objdump', args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`llvm-objdump ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

export function deepestChains(object: string): Map<string, Chain> {
  // function symbols: section + instruction index -> name
  const syms = new Map<string, string>();
  for (const line of objdump(['-t', object]).split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length >= 6 && p[2] === 'F') syms.set(`${p[3]}:${parseInt(p[0]!, 16) / 8}`, p[p.length - 1]!);
  }
  const frame = new Map<string, number>();
  const calls = new Map<string, Set<string>>();
  const programs: string[] = [];
  let section = '';
  let fn: string | null = null;
  let imm = 0;
  for (const line of objdump(['-dr', object]).split('\n')) {
    const sec = /^Disassembly of section (\S+):/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const rel = /R_BPF_64_(32|64)\s+(\S+)/.exec(line);
    if (rel && fn) {
      // a call (32) or a function's address (64); against .text the target is in the instruction
      const target = rel[2] !== '.text' ? rel[2]! : syms.get(`.text:${rel[1] === '32' ? imm + 1 : imm / 8}`);
      if (target && (rel[1] === '32' || rel[2] === '.text')) calls.get(fn)!.add(target);
      continue;
    }
    const ins = /^\s*(\d+):\s+((?:[0-9a-f]{2}\s){8})/.exec(line);
    if (!ins) continue;
    const at = syms.get(`${section}:${ins[1]}`);
    if (at) {
      fn = at;
      frame.set(fn, 0);
      calls.set(fn, new Set());
      if (section !== '.text') programs.push(fn);
    }
    if (!fn) continue;
    const bytes = ins[2]!.trim().split(/\s+/).map((b) => parseInt(b, 16));
    imm = Buffer.from(bytes.slice(4, 8)).readInt32LE(0);
    for (const m of line.matchAll(/r10 - (0x[0-9a-f]+|\d+)\)/g)) frame.set(fn, Math.max(frame.get(fn)!, Number(m[1])));
  }
  const round = (d: number): number => Math.ceil(Math.max(d, 1) / FRAME_ROUND) * FRAME_ROUND;
  const deepest = (f: string, seen: Set<string>): Chain => {
    let best: Chain = { bytes: 0, frames: [] };
    for (const c of calls.get(f) ?? []) {
      if (!frame.has(c) || seen.has(c)) continue;
      const sub = deepest(c, new Set([...seen, c]));
      if (sub.bytes > best.bytes) best = sub;
    }
    return { bytes: round(frame.get(f)!) + best.bytes, frames: [`${f}:${round(frame.get(f)!)}`, ...best.frames] };
  };
  return new Map(programs.map((p) => [p, deepest(p, new Set([p]))]));
}
