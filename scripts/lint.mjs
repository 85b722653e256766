// Project lint rules that tsc does not enforce:
//  - only src/loader/libbpf.ts imports koffi (one module touches the kernel);
//  - no focused tests (.only);
//  - generated files carry the "Code generated ... DO NOT EDIT." marker on line 1 or 2;
//  - the folders of src, codegen and sim import only from their own or earlier stages of
//    the pipeline (STAGES, as docs/architecture.md lists them), and no cycle between folders;
//  - src/loader is imported from outside only through its index.ts (one public face);
//  - the product (src, codegen, sim) never imports test/ or bench/, and benches take from
//    test/ only its shared kit, test/helpers.
import { existsSync, readdirSync, statSync, readFileSync } from 'node:fs';
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
  ['sim/capture', 'sim/decode', 'sim/stream', 'sim/l7', 'sim/http1', 'sim/http2', 'sim/replay', 'sim/builder', 'sim'],
  ['src/check'],
  ['src/plan'],
  ['src/loader'],
  ['src/observe'],
  ['src/deploy'],
  ['src/flow', 'src/replay'],
  ['src/hubble'],
  ['src'],
  ['src/agent', 'src/agent/kubernetes'],
  ['src/cli'],
];
const stageOf = (folder) => STAGES.findIndex((s) => s.includes(folder));
const sources = ['src', 'codegen', 'sim'].filter((r) => existsSync(r)).flatMap((r) => walk(r)).filter((f) => f.endsWith('.ts'));
const imports = importsOf(sources);
problems.push(...stageOrder(sources, imports), ...folderCycles(imports));
const benches = existsSync('bench') ? walk('bench').filter((f) => f.endsWith('.ts')) : [];
problems.push(...kitOnly([...imports, ...importsOf(benches)]));

/** Product code importing tests or benches, and benches importing tests outside test/helpers. */
function kitOnly(imports) {
  const under = (dir, root) => dir === root || dir.startsWith(root + '/');
  return imports.flatMap(({ file, spec, from, to }) => {
    if (!under(from, 'bench') && (under(to, 'test') || under(to, 'bench'))) return [`${file} imports ${spec}: product code does not import tests or benches`];
    if (under(from, 'bench') && under(to, 'test') && !under(to, 'test/helpers')) return [`${file} imports ${spec}: benches take from test/ only test/helpers`];
    return [];
  });
}

/** Relative imports (side-effect ones too) between folders: file, specifier, its folder, the target's. */
function importsOf(files) {
  return files.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)(?:[^'"]*?from)?\s*'(\.{1,2}\/[^']+)'/gm)].map((m) => ({
      file, spec: m[1], from: dirname(file), to: dirname(relative('.', resolve(dirname(file), m[1]))),
    })).filter((i) => i.from !== i.to));
}

/** Imports from a later stage or into the loader past its index, and folders no stage names. */
function stageOrder(files, imports) {
  const out = [...new Set(files.map((f) => dirname(f)))].filter((d) => stageOf(d) < 0)
    .map((d) => `${d}: a folder in no stage of scripts/lint.mjs STAGES (add it where it belongs in the pipeline)`);
  for (const { file, spec, from, to } of imports) {
    if (stageOf(from) < 0) continue;
    if (stageOf(to) > stageOf(from)) out.push(`${file} imports ${spec}: ${to} is a later stage than ${from}`);
    if (to === 'src/loader' && !spec.endsWith('/index.ts')) out.push(`${file} imports ${spec}: outside src/loader, import its index.ts`);
  }
  return out;
}

/** Folder-level import cycles (strongly connected components), each with the imports that close it. */
function folderCycles(imports) {
  const edges = new Map();
  for (const { file, spec, from, to } of imports) {
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${file} imports ${spec}`);
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
