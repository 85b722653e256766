// codegen/emit: PolicyIR -> policy.h (pure) -> clang -> l7bpf.o + manifest.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyIR } from '../ir/types.ts';
import { renderPolicyHeader } from './header.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { buildManifest, policyHash, sha256, type Manifest } from './manifest.ts';
import { OBJECT_NAME, POLICY_HEADER, runClang, runClangAsync } from './clang.ts';

export { renderPolicyHeader, HEADER_MARK } from './header.ts';
export { DEFAULT_LIMITS, LimitExceededError, checkLimits, type Limits } from './limits.ts';
export { ClangError, clangAvailable } from './clang.ts';
export type { Manifest } from './manifest.ts';

/** bpf-templates/ of this checkout: two levels up from source (codegen/emit), one from the bundle (dist/) */
export const TEMPLATES_DIR = ['../../bpf-templates', '../bpf-templates']
  .map((rel) => resolve(dirname(fileURLToPath(import.meta.url)), rel))
  .find((dir) => existsSync(join(dir, 'l7bpf.bpf.c'))) ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../bpf-templates');

export interface EmitResult {
  readonly dir: string;
  readonly objectPath: string;
  readonly headerPath: string;
  readonly manifestPath: string;
  readonly manifest: Manifest;
}

/** Writes policy.h, l7bpf.o and manifest.json into `outDir`. */
export function emitObject(ir: PolicyIR, outDir: string, limits: Limits = DEFAULT_LIMITS, templatesDir = TEMPLATES_DIR): EmitResult {
  const header = writeHeader(ir, outDir, limits);
  runClang(templatesDir, outDir);
  return finish(ir, outDir, limits, header);
}

/** emitObject with clang running in the background (build many objects in parallel). */
export async function emitObjectAsync(ir: PolicyIR, outDir: string, limits: Limits = DEFAULT_LIMITS, templatesDir = TEMPLATES_DIR): Promise<EmitResult> {
  const header = writeHeader(ir, outDir, limits);
  await runClangAsync(templatesDir, outDir);
  return finish(ir, outDir, limits, header);
}

function writeHeader(ir: PolicyIR, outDir: string, limits: Limits): { input: string; header: string; headerPath: string } {
  mkdirSync(outDir, { recursive: true });
  const input = policyHash(ir);
  const header = renderPolicyHeader({ ir, hash: input, limits });
  const headerPath = join(outDir, POLICY_HEADER);
  writeFileSync(headerPath, header);
  return { input, header, headerPath };
}

function finish(ir: PolicyIR, outDir: string, limits: Limits, { input, header, headerPath }: { input: string; header: string; headerPath: string }): EmitResult {
  const objectPath = join(outDir, OBJECT_NAME);
  const manifest = buildManifest(ir, limits, { input, header: sha256(header), object: sha256(readFileSync(objectPath)) });
  const manifestPath = join(outDir, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { dir: outDir, objectPath, headerPath, manifestPath, manifest };
}
