// Entry of a replay worker thread when l7bpf runs from its TypeScript sources (the bundle has
// its own, scripts/build.mjs). Loader hooks of the parent (tsx) do not reach a worker in every
// setup (node's test runner, `tsx` as a command), so register tsx here when needed.
try {
  await import('./worker.ts');
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  await import('./worker.ts?tsx');
}
