// Entry of a replayParallel worker thread. Loader hooks of the parent (tsx) do not reach a
// worker in every setup (node's test runner, `tsx` as a command), so register tsx here when
// the TypeScript worker cannot be imported as is.
try {
  await import('./worker.ts');
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  await import('./worker.ts?tsx');
}
