// Project lint rules that tsc does not enforce:
//  - only src/loader/libbpf.ts imports koffi (one module touches the kernel);
//  - no focused tests (.only);
//  - generated files carry the "Code generated ... DO NOT EDIT." marker on line 1 or 2.
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['src', 'codegen', 'sim', 'test', 'bench'];
const problems = [];
function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (/\.(ts|mjs|js)$/.test(p)) out.push(p);
  }
  return out;
}
for (const root of roots) {
  let files = [];
  try { files = walk(root); } catch { continue; }
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (/from ['"]koffi['"]|require\(['"]koffi['"]\)/.test(text) && f !== join('src', 'loader', 'libbpf.ts')) {
      problems.push(`${f}: imports koffi (only src/loader/libbpf.ts may)`);
    }
    if (/\b(it|test|describe)\.only\(/.test(text)) problems.push(`${f}: focused test (.only)`);
    if (/\.generated\.ts$/.test(f) && !/DO NOT EDIT/.test(text.split('\n').slice(0, 2).join('\n'))) {
      problems.push(`${f}: generated file without the DO NOT EDIT marker`);
    }
  }
}
if (problems.length) {
  for (const p of problems) console.error(`lint: ${p}`);
  process.exit(1);
}
