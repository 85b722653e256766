// Bundles the CLI into dist/l7bpf.mjs (koffi stays external: it ships a native module).
import { build } from 'esbuild';
await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: process.argv[2] ?? 'dist/l7bpf.mjs',
  external: ['koffi'],
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
