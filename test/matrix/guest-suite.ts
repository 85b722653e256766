// The kernel tests a matrix guest runs (test/matrix/kernels.test.ts), in one process: under
// emulation each process start costs seconds. Chosen to reach every program path in a
// bounded time: load and verify (default config, generated objects up to 100 rules), L3/L4
// verdicts and resets (basic), the stream rule and its normalizations (integrity), framing
// across segments, bodies, pipelining, IPv6 and the ring (stream), every strict rule
// (strict), websocket upgrades (upgrade), a policy swap under live flows and the event
// counters (swap-counters), audit mode's passes and AUDIT events (audit: three small objects),
// HTTP/2 streams from literals and both tables (h2-events; the
// differential runs on the host, every object's verification covers the HTTP/2 code here; the
// rate limits' code is verified with verify's generated objects, their differential on the host). L7BPF_KERNEL_MATRIX=full runs every test/kernel file instead.
// A guest given L7BPF_MATRIX_SUITE=narrow (6.12: its verifier and helpers sit between 6.1 and the
// host's, both of which run the whole suite) loads and verifies every object and runs the files
// that touch maps, the ring buffer and swaps, not the parsing paths' files (integrity, stream,
// strict, upgrade), whose bytecode behaves alike on every kernel that loads it: the two guests
// share two cores with the other test files, and the narrow one leaves the 6.1 guest its share.

const NARROW = process.env.L7BPF_MATRIX_SUITE === 'narrow';
await import('../kernel/verify.test.ts');
await import('../kernel/basic.test.ts');
if (!NARROW) {
  await import('../kernel/integrity.test.ts');
  await import('../kernel/stream.test.ts');
  await import('../kernel/strict.test.ts');
  await import('../kernel/upgrade.test.ts');
}
await import('../kernel/swap-counters.test.ts');
await import('../kernel/h2-events.test.ts');
await import('../kernel/audit.test.ts');
