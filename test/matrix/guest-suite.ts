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
import '../kernel/verify.test.ts';
import '../kernel/basic.test.ts';
import '../kernel/integrity.test.ts';
import '../kernel/stream.test.ts';
import '../kernel/strict.test.ts';
import '../kernel/upgrade.test.ts';
import '../kernel/swap-counters.test.ts';
import '../kernel/h2-events.test.ts';
import '../kernel/audit.test.ts';
