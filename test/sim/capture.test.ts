import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapture } from '../../sim/capture/read.ts';
import { pcapBytes } from '../../sim/capture/writer.ts';
import { CaptureError } from '../../sim/capture/types.ts';
import { tcpConn } from '../../sim/builder/tcp-conn.ts';
import { reframe } from '../../sim/builder/frames.ts';
import { decodePacket } from '../../sim/decode/index.ts';
import { pcapng, runPcap, summaries } from './helpers.ts';

function conv() {
  const c = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' });
  c.handshake().send('GET /x HTTP/1.1\r\nHost: a\r\n\r\n').recv('HTTP/1.1 204 No Content\r\n\r\n').close();
  return c.list;
}

function collect(bytes: Uint8Array, o: { chunkSize?: number } = {}) {
  const errors: CaptureError[] = [];
  const recs = [...readCapture(bytes, { onError: (e) => errors.push(e), ...o })];
  return { recs, errors };
}

test('pcap: nanosecond magic, big-endian, timestamps and offsets', () => {
  const frames = conv().map((p, i) => ({ data: p.frame, ts: 1_700_000_000_123_456_789n + BigInt(i) }));
  for (const bigEndian of [false, true]) {
    for (const nano of [false, true]) {
      const { recs, errors } = collect(pcapBytes(frames, { bigEndian, nano }), { chunkSize: 64 });
      assert.deepEqual(errors, []);
      assert.equal(recs.length, frames.length);
      recs.forEach((r, i) => {
        const want = nano ? frames[i]!.ts : (frames[i]!.ts / 1000n) * 1000n;
        assert.equal(r.ts, want, `ts of record ${i} (be=${bigEndian} nano=${nano})`);
        assert.deepEqual(r.data, frames[i]!.data);
        assert.equal(r.linkType, 1);
      });
      assert.equal(recs[0]!.offset, 24);
      assert.equal(recs[1]!.offset, 24 + 16 + frames[0]!.data.length);
    }
  }
});

test('pcap: truncated tail is reported with its offset, earlier records kept', () => {
  const bytes = pcapBytes(conv().map((p) => ({ data: p.frame, ts: 0n })));
  const cut = bytes.subarray(0, bytes.length - 10);
  const { recs, errors } = collect(cut);
  assert.equal(recs.length, conv().length - 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'truncated-record');
  assert.ok(errors[0]!.message.includes(`offset ${errors[0]!.offset}`));
});

test('pcap: impossible record length stops with bad-record-length', () => {
  const bytes = new Uint8Array(pcapBytes(conv().map((p) => ({ data: p.frame, ts: 0n }))));
  new DataView(bytes.buffer).setUint32(24 + 8, 0x7fffffff, true);
  const { recs, errors } = collect(bytes);
  assert.equal(recs.length, 0);
  assert.equal(errors[0]?.code, 'bad-record-length');
  assert.equal(errors[0]?.offset, 24);
});

test('not a capture: bad-magic error, no throw', () => {
  const { recs, errors } = collect(new TextEncoder().encode('hello world, this is not a capture file'));
  assert.equal(recs.length, 0);
  assert.equal(errors[0]?.code, 'bad-magic');
});

test('pcapng: two interfaces with different link types (Ethernet, SLL2), both byte orders', () => {
  const list = conv();
  const packets = list.map((p, i) => ({
    iface: i % 2,
    ts: 1_700_000_000_000_000_000n + BigInt(i) * 1_000n,
    data: i % 2 ? reframe(p.frame, 276) : p.frame,
  }));
  for (const be of [false, true]) {
    const bytes = pcapng([{ linkType: 1 }, { linkType: 276, tsresol: 9 }], packets, be);
    const { recs, errors } = collect(bytes, { chunkSize: 100 });
    assert.deepEqual(errors, []);
    assert.equal(recs.length, list.length);
    assert.deepEqual(recs.map((r) => r.linkType), packets.map((p) => (p.iface ? 276 : 1)));
    assert.deepEqual(recs.map((r) => r.interfaceId), packets.map((p) => p.iface));
    assert.deepEqual(recs.map((r) => r.ts), packets.map((p) => p.ts));
    const r = runPcap(bytes);
    assert.deepEqual(summaries(r), ['GET /x allow']);
    assert.equal(r.requests[0]!.response?.status, 204);
  }
});

test('pcapng: unknown blocks skipped, a bad block reported and skipped by its length', () => {
  const list = conv();
  const unknown = new Uint8Array(16);
  const dv = new DataView(unknown.buffer);
  dv.setUint32(0, 0xbad, true); dv.setUint32(4, 16, true); dv.setUint32(12, 16, true);
  const packets = list.map((p, i) => ({ iface: i === 3 ? 7 : 0, ts: 0n, data: p.frame }));
  const bytes = pcapng([{ linkType: 1 }], packets, false, [unknown]);
  const { recs, errors } = collect(bytes);
  assert.equal(recs.length, list.length - 1);
  assert.deepEqual(errors.map((e) => e.code), ['unknown-interface']);
});

test('pcapng: truncated last block reported', () => {
  const bytes = pcapng([{ linkType: 1 }], conv().map((p) => ({ iface: 0, ts: 0n, data: p.frame })));
  const { recs, errors } = collect(bytes.subarray(0, bytes.length - 5));
  assert.equal(recs.length, conv().length - 1);
  assert.equal(errors[0]?.code, 'truncated-record');
});

test('decode: link types NULL (both orders), raw IP, SLL, SLL2, VLAN give the same TCP segment', () => {
  const eth = conv()[3]!.frame;
  const want = decodePacket(1, eth);
  assert.equal(want.kind, 'tcp');
  const variants: [number, Uint8Array][] = [
    [0, reframe(eth, 0)], [0, reframe(eth, 0, { bigEndianFamily: true })], [108, reframe(eth, 0, { bigEndianFamily: true })],
    [101, reframe(eth, 101)], [12, reframe(eth, 101)], [228, reframe(eth, 101)],
    [113, reframe(eth, 113)], [276, reframe(eth, 276)],
  ];
  for (const [lt, f] of variants) assert.deepEqual(decodePacket(lt, f), want, `link type ${lt}`);
  const tagged = decodePacket(1, reframe(eth, 1, { vlan: 42 }));
  assert.equal(tagged.kind, 'tcp');
  assert.deepEqual(tagged.kind === 'tcp' && tagged.vlans, [42]);
});

test('decode: IPv6 with hop-by-hop and destination options; fragment flagged', () => {
  const c = tcpConn({ client: '[fd00::1]:40000', server: '[fd00::2]:80' });
  c.handshake().send('GET / HTTP/1.1\r\n\r\n');
  const eth = c.list[3]!.frame;
  const plain = decodePacket(1, eth);
  assert.equal(plain.kind === 'tcp' && plain.src, 'fd00::1');
  // insert hop-by-hop (8 bytes) then destination options (16 bytes) before TCP
  const ip = 14;
  const ext = new Uint8Array(24);
  ext[0] = 60; ext[1] = 0; // hop-by-hop -> dstopts, 8 bytes
  ext[8] = 6; ext[9] = 1;  // dstopts -> tcp, 16 bytes
  const f = new Uint8Array(eth.length + 24);
  f.set(eth.subarray(0, ip + 40));
  f.set(ext, ip + 40);
  f.set(eth.subarray(ip + 40), ip + 64);
  f[ip + 6] = 0;
  const plen = ((eth[ip + 4]! << 8) | eth[ip + 5]!) + 24;
  f[ip + 4] = plen >> 8; f[ip + 5] = plen & 255;
  const d = decodePacket(1, f);
  assert.equal(d.kind, 'tcp');
  assert.deepEqual(d.kind === 'tcp' && Buffer.from(d.payload).toString(), 'GET / HTTP/1.1\r\n\r\n');
  const frag = f.slice();
  frag[ip + 6] = 44; // fragment header instead of hop-by-hop
  frag[ip + 40] = 60; frag[ip + 43] = 1; // more fragments
  assert.equal(decodePacket(1, frag).kind, 'fragment');
});

test('decode: IPv4 options skipped, fragments flagged, garbage gives an error reason', () => {
  const eth = conv()[3]!.frame;
  const withOpt = new Uint8Array(eth.length + 4);
  withOpt.set(eth.subarray(0, 34));
  withOpt.set([1, 1, 1, 0], 34); // NOP NOP NOP EOL
  withOpt.set(eth.subarray(34), 38);
  withOpt[14] = 0x46;
  const tl = ((eth[16]! << 8) | eth[17]!) + 4;
  withOpt[16] = tl >> 8; withOpt[17] = tl & 255;
  assert.deepEqual(decodePacket(1, withOpt), decodePacket(1, eth));
  const frag = eth.slice();
  frag[20] = 0x20; // MF
  assert.equal(decodePacket(1, frag).kind, 'fragment');
  assert.deepEqual(decodePacket(1, eth.subarray(0, 20)), { kind: 'error', reason: 'truncated-ip' });
  assert.deepEqual(decodePacket(99999, eth), { kind: 'error', reason: 'unknown-link-type' });
  const arp = eth.slice(); arp[12] = 0x08; arp[13] = 0x06;
  assert.equal(decodePacket(1, arp).kind, 'not-ip');
});
