// Bundles the CLI into dist/l7bpf.mjs (koffi stays external: it ships a native module), and
// beside it l7bpf-replay-worker.mjs, the entry of `l7bpf replay`'s worker threads
// (src/replay/parallel.ts looks for it next to the bundle it runs from).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';

const outfile = process.argv[2] ?? 'dist/l7bpf.mjs';
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['koffi'],
  logLevel: 'warning',
};
const requireShim = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";
await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile, banner: { js: `#!/usr/bin/env node\n${requireShim}` } }),
  build({ ...common, entryPoints: ['src/replay/worker.ts'], outfile: join(dirname(outfile), 'l7bpf-replay-worker.mjs'), banner: { js: requireShim } }),
]);
