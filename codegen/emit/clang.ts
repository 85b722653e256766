// The one place that runs clang. Reproducible: fixed flags, cwd = output dir, debug paths
// mapped, so the same header and templates give a byte-identical object anywhere.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const TEMPLATE_MAIN = 'l7bpf.bpf.c';
export const POLICY_HEADER = 'policy.h';
export const OBJECT_NAME = 'l7bpf.o';

export class ClangError extends Error {
  constructor(readonly stderr: string, readonly status: number | null) {
    super(`emit: clang failed (status ${status}):\n${stderr.trim().split('\n').slice(0, 30).join('\n')}\n(hint: check that clang >= 14 and libbpf-dev are installed)`);
    this.name = 'ClangError';
  }
}

export function multiarchInclude(arch: string = process.arch): string {
  const triple = arch === 'arm64' ? 'aarch64' : arch === 'x64' ? 'x86_64' : arch;
  return `/usr/include/${triple}-linux-gnu`;
}

/** Arguments for building <outDir>/l7bpf.o from the templates and <outDir>/policy.h (cwd = outDir). */
export function clangArgs(templatesDir: string, outDir: string, useDefaultPolicy = false): string[] {
  const t = resolve(templatesDir);
  const o = resolve(outDir);
  return [
    '-O2', '-g', '-target', 'bpf', '-Wall', '-Werror',
    `-I${multiarchInclude()}`, '-I.', `-I${t}`,
    ...(useDefaultPolicy ? [] : [`-DL7_POLICY_HEADER="${POLICY_HEADER}"`]),
    `-fdebug-prefix-map=${t}=bpf-templates`, `-fdebug-prefix-map=${o}=.`,
    '-c', `${t}/${TEMPLATE_MAIN}`, '-o', OBJECT_NAME,
  ];
}

export function runClang(templatesDir: string, outDir: string, useDefaultPolicy = false, main = TEMPLATE_MAIN, out = OBJECT_NAME): void {
  const cache = objectCache(templatesDir, outDir, useDefaultPolicy, main);
  if (cache?.take(join(outDir, out))) return;
  const args = clangArgs(templatesDir, outDir, useDefaultPolicy).map((a) => (a.endsWith(`/${TEMPLATE_MAIN}`) ? a.replace(TEMPLATE_MAIN, main) : a === OBJECT_NAME ? out : a));
  const r = spawnSync('clang', args, { cwd: outDir, encoding: 'utf8' });
  if (r.error) throw new ClangError(String(r.error.message), null);
  if (r.status !== 0) throw new ClangError(r.stderr, r.status);
  cache?.keep(join(outDir, out));
}

/** runClang without blocking: several policy objects can build at once (one clang per core). */
export function runClangAsync(templatesDir: string, outDir: string): Promise<void> {
  const cache = objectCache(templatesDir, outDir, false, TEMPLATE_MAIN);
  if (cache?.take(join(outDir, OBJECT_NAME))) return Promise.resolve();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('clang', clangArgs(templatesDir, outDir), { cwd: outDir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new ClangError(e.message, null)));
    child.on('close', (status) => {
      if (status !== 0) return reject(new ClangError(stderr, status));
      cache?.keep(join(outDir, OBJECT_NAME));
      resolvePromise();
    });
  });
}

/**
 * L7BPF_OBJECT_CACHE=<dir>: objects stored under the hash of everything clang reads (its
 * version, the templates, policy.h), for the kernel matrix's guests, where clang under
 * emulation takes 20 s an object and the host has built the same objects already. The
 * build is reproducible (see above), so a cached object is the one clang would write.
 * A cache that cannot be written (read-only in a guest) is only read.
 */
function objectCache(templatesDir: string, outDir: string, useDefaultPolicy: boolean, main: string) {
  const dir = process.env.L7BPF_OBJECT_CACHE;
  if (!dir) return null;
  const h = createHash('sha256').update(clangVersion()).update(`\0${main}\0${useDefaultPolicy}\0`);
  const t = resolve(templatesDir);
  for (const name of readdirSync(t).sort()) h.update(`${name}\0`).update(readFileSync(join(t, name))).update('\0');
  if (!useDefaultPolicy) h.update(readFileSync(join(outDir, POLICY_HEADER)));
  const file = join(dir, `${h.digest('hex')}.o`);
  return {
    take(to: string): boolean {
      if (!existsSync(file)) return false;
      copyFileSync(file, to);
      return true;
    },
    keep(from: string): void {
      try {
        mkdirSync(dir, { recursive: true });
        // whole or not at all: another process may take it while this one writes
        const tmp = `${file}.${process.pid}.tmp`;
        copyFileSync(from, tmp);
        renameSync(tmp, file);
      } catch {
        /* read-only: the cache is only read here */
      }
    },
  };
}

let version: string | undefined;
function clangVersion(): string {
  version ??= spawnSync('clang', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return version;
}

export function clangAvailable(): boolean {
  const r = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}
