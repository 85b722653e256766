// Loader logic against the in-memory FakeLibbpf: runs everywhere, no root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeLibbpf, loadObject, KernelFeatureError, VerifierError, verifierTail, fillIpcache, fillSelectors, ipcacheKey, clearMap, MapKeyError } from '../../src/loader/index.ts';

const MAPS = [
  { name: 'ipcache', type: 11, keySize: 20, valueSize: 8, maxEntries: 16 },
  { name: 'selectors', type: 1, keySize: 4, valueSize: 16, maxEntries: 16 },
  { name: 'flows', type: 9, keySize: 38, valueSize: 88, maxEntries: 16 },
];

function withObjFile<T>(f: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-fake-'));
  try {
    const p = join(dir, 'x.o');
    writeFileSync(p, 'not really elf');
    return f(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('ipcache keys: v4 as ::ffff:a.b.c.d with prefix + 96, v6 as is', () => {
  const k = ipcacheKey('10.1.0.0/16');
  assert.equal(k.readUInt32LE(0), 112);
  assert.deepEqual([...k.subarray(4)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 0, 0]);
  const k6 = ipcacheKey('fd00::2');
  assert.equal(k6.readUInt32LE(0), 128);
  assert.equal(k6[4], 0xfd);
  assert.equal(k6[19], 2);
  assert.throws(() => ipcacheKey('10.0.0.0/33'), MapKeyError);
  assert.throws(() => ipcacheKey('nope'), /not an IP address/);
});

test('fill maps: identities and selector bitsets land in the maps, clearMap empties one', () => withObjFile((path) => {
  const lib = new FakeLibbpf({ programs: ['l7_from_pod', 'l7_to_pod'], maps: MAPS, verifiedInsns: 4321 });
  const obj = loadObject(lib, path);
  assert.equal(obj.programs.get('l7_to_pod')!.verifiedInsns, 4321);
  fillIpcache(obj, [{ cidr: '10.0.0.1', identity: 1000 }]);
  fillSelectors(obj, [{ identity: 1000, selectors: [0, 65] }]);
  const v = lib.mapLookup(obj.maps.get('selectors')!.fd, Buffer.from([0xe8, 3, 0, 0]))!;
  assert.equal(v.readBigUInt64LE(0), 1n);
  assert.equal(v.readBigUInt64LE(8), 2n);
  assert.equal(lib.mapLookup(obj.maps.get('ipcache')!.fd, ipcacheKey('10.0.0.1'))!.readUInt32LE(0), 1000);
  assert.throws(() => fillSelectors(obj, [{ identity: 1, selectors: [128] }]), /does not fit 128 bits/);
  assert.equal(clearMap(obj, 'ipcache'), 1);
  assert.equal(clearMap(obj, 'ipcache'), 0);
}));

test('a verifier rejection becomes a VerifierError naming the program with the log tail', () => withObjFile((path) => {
  const log = ['0: (b7) r0 = 0', '1: (79) r1 = *(u64 *)(r2 +0)', 'R2 invalid mem access \'scalar\'', '', 'processed 2 insns (limit 1000000)'].join('\n');
  const lib = new FakeLibbpf({ programs: ['l7_from_pod', 'l7_to_pod'], maps: MAPS, failProgram: { name: 'l7_to_pod', log } });
  assert.throws(() => loadObject(lib, path), (e: unknown) => {
    assert.ok(e instanceof VerifierError);
    assert.equal(e.program, 'l7_to_pod');
    assert.equal(e.logTail.at(-1), "R2 invalid mem access 'scalar'");
    assert.match(e.message, /hint:/);
    return true;
  });
  assert.deepEqual(verifierTail('a\n\nb\nprocessed 5 insns\nstats', 1), ['b']);
}));

test('a kernel without bpf_loop gets a KernelFeatureError naming it and the version, not the verifier log', () => withObjFile((path) => {
  const log = ['0: (85) call unknown#181', 'invalid func unknown#181', 'processed 1 insns (limit 1000000)'].join('\n');
  const lib = new FakeLibbpf({ programs: ['l7_from_pod', 'l7_to_pod'], maps: MAPS, failProgram: { name: 'l7_from_pod', log } });
  lib.lacks.helpers.add(181);
  lib.lacks.maps.add(27);
  assert.throws(() => loadObject(lib, path), (e: unknown) => {
    assert.ok(e instanceof KernelFeatureError);
    assert.deepEqual(e.missing.map((f) => f.name), ['bpf_loop', 'ring buffer map']);
    assert.match(e.message, /lacks what the datapath needs: bpf_loop \(Linux 5\.17\), ring buffer map \(Linux 5\.8\).*Linux 5\.17 or later/);
    return true;
  });
}));
