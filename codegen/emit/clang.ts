// The one place that runs clang. Reproducible: fixed flags, cwd = output dir, debug paths
// mapped, so the same header and templates give a byte-identical object anywhere.
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

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
  const args = clangArgs(templatesDir, outDir, useDefaultPolicy).map((a) => (a.endsWith(`/${TEMPLATE_MAIN}`) ? a.replace(TEMPLATE_MAIN, main) : a === OBJECT_NAME ? out : a));
  const r = spawnSync('clang', args, { cwd: outDir, encoding: 'utf8' });
  if (r.error) throw new ClangError(String(r.error.message), null);
  if (r.status !== 0) throw new ClangError(r.stderr, r.status);
}

/** runClang without blocking: several policy objects can build at once (one clang per core). */
export function runClangAsync(templatesDir: string, outDir: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('clang', clangArgs(templatesDir, outDir), { cwd: outDir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new ClangError(e.message, null)));
    child.on('close', (status) => (status === 0 ? resolvePromise() : reject(new ClangError(stderr, status))));
  });
}

export function clangAvailable(): boolean {
  const r = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}
