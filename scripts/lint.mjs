// Project lint rules that tsc does not enforce:
//  - only src/loader/libbpf.ts imports koffi (one module touches the kernel);
//  - no focused tests (.only);
//  - generated files carry the "Code generated ... DO NOT EDIT." marker on line 1 or 2;
//  - the folders of src, codegen and sim import only from their own or earlier stages of
//    the pipeline (STAGES, as docs/architecture.md lists them), and no cycle between folders;
//  - src/loader is imported from outside only through its index.ts (one public face).
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

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
// the pipeline's stages in order; a folder may import from its own stage and earlier ones
const STAGES = [
  ['src/source', 'src/net'],
  ['src/policy'],
  ['src/endpoints'],
  ['src/verdict'],
  ['codegen/regex', 'codegen/ir', 'codegen/emit'],
  ['sim/capture', 'sim/decode', 'sim/stream', 'sim/http1', 'sim/replay', 'sim/builder', 'sim'],
  ['src/check'],
  ['src/plan'],
  ['src/loader'],
  ['src/deploy'],
  ['src/flow', 'src/replay'],
  ['src'],
  ['src/cli'],
];
const stageOf = (folder) => STAGES.findIndex((s) => s.includes(folder));
problems.push(...stageOrder(['src', 'codegen', 'sim'].flatMap((r) => walk(r)).filter((f) => f.endsWith('.ts'))));
problems.push(...folderCycles(['src', 'codegen', 'sim'].flatMap((r) => walk(r)).filter((f) => f.endsWith('.ts'))));

/** Imports from a later stage, and folders no stage names. */
function stageOrder(files) {
  const out = [];
  for (const f of files) {
    const a = dirname(f);
    if (stageOf(a) < 0) {
      out.push(`${a}: a folder in no stage of scripts/lint.mjs STAGES (add it where it belongs in the pipeline)`);
      continue;
    }
    for (const m of readFileSync(f, 'utf8').matchAll(/^(?:import|export)(?:[^'"]*?from)?\s*'(\.{1,2}\/[^']+)'/gm)) {
      const b = dirname(relative('.', resolve(a, m[1])));
      if (stageOf(b) > stageOf(a)) out.push(`${f} imports ${m[1]}: ${b} is a later stage than ${a}`);
      if (b === 'src/loader' && a !== b && !m[1].endsWith('/index.ts')) out.push(`${f} imports ${m[1]}: outside src/loader, import its index.ts`);
    }
  }
  return [...new Set(out)];
}

/** Folder-level import cycles (strongly connected components), each with the imports that close it. */
function folderCycles(files) {
  const edges = new Map();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^(?:import|export)(?:[^'"]*?from)?\s*'(\.{1,2}\/[^']+)'/gm)) {
      const a = dirname(f);
      const b = dirname(relative('.', resolve(a, m[1])));
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a).has(b)) edges.get(a).set(b, `${f} imports ${m[1]}`);
    }
  }
  // Tarjan's strongly connected components
  let next = 0;
  const index = new Map(), low = new Map(), stack = [], onStack = new Set(), out = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length < 2) return;
    const why = scc.flatMap((a) => [...edges.get(a)].filter(([b]) => scc.includes(b)).map(([, e]) => e));
    out.push(`import cycle between folders ${scc.sort().join(', ')}: ${why.join('; ')}`);
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

if (problems.length) {
  for (const p of problems) console.error(`lint: ${p}`);
  process.exit(1);
}
