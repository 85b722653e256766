// gRPC and plain HTTP/2 through the kernel: a real @grpc/grpc-js server and client, nghttp
// (prior knowledge) against a node:http2 server and curl (h2c upgrade) against nghttpd, in
// network namespaces with the seed's
// gRPC rule deployed by `l7bpf deploy`. Allowed calls succeed on one channel (unary and
// server-streaming), a denied call fails fast without its handler ever running, a new
// channel works afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, FIXTURES, inventoryYaml, lastJsonLine, Topology, waitForLine } from '../helpers/netns.ts';

const skip = e2eSkip() || (spawnSync('nghttp', ['--version']).status === 0 ? false : 'nghttp not installed (Debian nghttp2-client)');
if (skip) console.log(`# skipping e2e grpc: ${skip}`);

interface Call {
  readonly call: string;
  readonly code: number;
  readonly details: string;
  readonly items: number;
  readonly ms: number;
}

/** grpc-js status codes used here */
const OK = 0;
const PERMISSION_DENIED = 7;

describe('e2e: gRPC and HTTP/2 through the kernel', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let server: ChildProcess;
  const handlers: string[] = [];
  /** the connection (client address and port) each handler ran for */
  const peers: string[] = [];

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-grpc-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await compilePolicies([join(FIXTURES, 'grpc-policy.yaml')], join(dir, 'obj'));
    server = t.spawnIn(t.pod('backend').netns, process.execPath, [join(FIXTURES, 'grpc-server.mjs'), '9090', '8080']);
    // nghttpx accepts h2c upgrades (node:http2 does not) and forwards to the node:http2 server
    const proxy = t.spawnIn(t.pod('backend').netns, 'nghttpx', ['--single-process', '-f0.0.0.0,8081;no-tls', '-b127.0.0.1,8080;;proto=h2',
      '--no-ocsp', '--accesslog-file=/dev/null', '--errorlog-file=/dev/null']);
    proxy.stdout?.resume();
    proxy.stderr?.resume();
    server.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as { handler: string; peer?: string };
        handlers.push(e.handler);
        peers.push(e.peer ?? '');
      }
    });
    await waitForLine(server, 'ready', 15_000);
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'grpc']);
  });

  after(() => {
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const calls = (steps: readonly string[], retries = false) => lastJsonLine<Call[]>(
    t.spawnIn(t.pod('frontend').netns, process.execPath, [join(FIXTURES, 'grpc-client.mjs'), JSON.stringify({ host: '10.0.0.2', port: 9090, steps, retries })]),
    60_000,
  );

  it('allowed unary and server-streaming calls succeed on one channel; a denied call gets PERMISSION_DENIED at once, its handler never runs; the connection goes on (stage 3)', async () => {
    // stage 3 needs the denied call to be the whole tail of its packet (docs/datapath.md,
    // "HTTP/2 stage 3"); whether grpc-js's HEADERS and DATA leave in one segment is the client's
    // timing: about one run in six here the call is answered at stage 2 (GOAWAY, the next calls
    // on a new connection), which is correct too. Every run must hold the rest; one of at most
    // four runs must show the connection kept.
    const fallbacks: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      handlers.length = 0;
      peers.length = 0;
      // grpc-js's default retries: a call started as the GOAWAY arrives is refused by that
      // connection and retried on the next one (transparent retry)
      const r = await calls(['GetUsers', 'WatchUsers', 'GetUsers', 'DeleteUser', 'GetUsers', 'WatchUsers', 'new-channel', 'GetUsers'], true);
      const [get, watch, get2, del, after, watch2, get3] = r;
      assert.deepEqual([get?.code, get?.items], [OK, 3], JSON.stringify(get));
      assert.deepEqual([watch?.code, watch?.items], [OK, 3], JSON.stringify(watch));
      assert.equal(get2?.code, OK, JSON.stringify(get2));
      // trailers-only grpc-status 7 on the stream
      assert.deepEqual([del?.code, del?.details], [PERMISSION_DENIED, 'Access denied'], JSON.stringify(del));
      assert.ok((del?.ms ?? Infinity) < 100, `the denied call took ${del?.ms} ms (want < 100)`);
      assert.deepEqual([after?.code, after?.items], [OK, 3], `the same channel after the denial: ${JSON.stringify(after)}`);
      assert.deepEqual([watch2?.code, watch2?.items], [OK, 3], JSON.stringify(watch2));
      assert.deepEqual([get3?.code, get3?.items], [OK, 3], `a new channel: ${JSON.stringify(get3)}`);
      await new Promise((res) => setTimeout(res, 200));
      assert.ok(!handlers.includes('DeleteUser'), `the server ran the denied handler: ${handlers.join(', ')}`);
      assert.deepEqual(handlers.filter((h) => h === 'GetUsers').length, 4);
      // stage 3: the denied call was cut and answered on its stream, the connection kept: the
      // calls after it ran on the connection of the calls before it (a new channel: another one)
      const conns = handlers.map((h, i) => `${h}@${peers[i]}`);
      if (peers[3] === peers[2] && peers[4] === peers[2]) {
        assert.notEqual(peers[5], peers[2], conns.join(', '));
        console.log(`# stage 3 on run ${attempt + 1}${fallbacks.length ? ` (stage 2 before: ${fallbacks.join('; ')})` : ''}`);
        return;
      }
      fallbacks.push(conns.join(', '));
    }
    assert.fail(`the connection never went on after the denied call (stage 2 every time): ${fallbacks.join('; ')}`);
  });

  it('plain HTTP/2 (nghttp, prior knowledge) under http rules: allowed GET answered, denied request answered 403 and GOAWAY, never served', async () => {
    handlers.length = 0;
    const nghttp = (path: string, ...flags: string[]) => spawnSync('ip', ['netns', 'exec', t.pod('frontend').netns, 'nghttp', ...flags, '-t', '3', `http://10.0.0.2:8080${path}`], { encoding: 'utf8', timeout: 20_000 });
    const ok = nghttp('/api/v1/users');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /GET \/api\/v1\/users/);
    const t0 = performance.now();
    const denied = nghttp('/api/v1/admin', '-v');
    const ms = performance.now() - t0;
    // the stream's answer after the server's SETTINGS: a 403 (with gRPC's status for gRPC
    // clients) ending the stream (nghttp, done, does not print the GOAWAY after it)
    assert.match(denied.stdout, /recv SETTINGS frame[\s\S]*recv \(stream_id=13\) :status: 403\n[\s\S]*grpc-status: 7\n[\s\S]*recv HEADERS frame <length=\d+, flags=0x05, stream_id=13>/, denied.stdout);
    assert.doesNotMatch(denied.stdout, /GET \/api\/v1\/admin\b(?!.*HTTP)/);
    // the server's log lines arrive once the event loop runs again (spawnSync held it)
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(ms < 2000, `nghttp took ${ms} ms to see the answer`);
    assert.ok(!handlers.some((h) => h.includes('/api/v1/admin')), `the server served the denied request: ${handlers.join(', ')}`);
    assert.ok(handlers.includes('GET /api/v1/users'));
  });

  it('h2c upgrade (curl --http2, nghttpx in front of node:http2): the upgrade request and later streams are judged', async () => {
    handlers.length = 0;
    const curl = (...paths: string[]) => spawnSync('ip', ['netns', 'exec', t.pod('frontend').netns, 'curl', '-s', '--http2', '-m', '5',
      '-w', '%{http_code} %{http_version}\n', ...paths.map((p) => `http://10.0.0.2:8081${p}`)], { encoding: 'utf8', timeout: 20_000 });
    // the upgrade request is allowed, the server switches: the answer comes over HTTP/2
    const ok = curl('/api/v1/users');
    assert.match(ok.stdout, /GET \/api\/v1\/users\n200 2\n$/, ok.stdout + ok.stderr);
    // a denied upgrade request is answered 403 (HTTP/1) before any switch
    const denied = curl('/api/v1/admin');
    assert.doesNotMatch(denied.stdout, /^200/m, denied.stdout);
    // on the upgraded connection the next requests are streams 3, 5: allowed, then denied
    const three = curl('/api/v1/users', '/api/v1/users', '/api/v1/admin');
    assert.match(three.stdout, /^GET \/api\/v1\/users\n200 2\nGET \/api\/v1\/users\n200 2\n/, three.stdout + three.stderr);
    assert.doesNotMatch(three.stdout, /admin/, `the denied stream was answered: ${three.stdout}`);
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(!handlers.some((h) => h.includes('/api/v1/admin')), `the server served a denied request: ${handlers.join(', ')}`);
    assert.equal(handlers.filter((h) => h === 'GET /api/v1/users').length, 3, handlers.join(', '));
  });
});
