// What `replay --kernel` feeds BPF_PROG_TEST_RUN, without a kernel: the synthetic Ethernet
// header of each link type, the TCP pieces of a frame over the test_run limit, and the hint a
// failed run carries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumsValid, decodeInto, PacketView, reframe, tcpFrame } from '../../sim/index.ts';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../../sim/decode/view.ts';
import { ethernetFrame, KernelReplayer, splitSummary, tcpPieces, testRunFrames, type KernelPacket } from '../../src/replay/kernel.ts';
import { TEST_RUN_MAX_FRAME, TestRunError, testRunHint, FakeLibbpf, loadObject } from '../../src/loader/index.ts';
import { parseInventory } from '../../src/endpoints/parse.ts';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255);
const seg = (src: string, dst: string, payload: Uint8Array, flags = TCP_ACK | TCP_PSH, seq = 1000) =>
  tcpFrame({ src, dst, sport: 40000, dport: 8080, seq, ack: 5001, flags, payload });

/** Raw IP link types carry the IP packet alone: the Ethernet frame minus its header. */
function onLink(eth: Uint8Array, linkType: number, opts: { bigEndianFamily?: boolean } = {}): Uint8Array {
  if (linkType === 108) return reframe(eth, 0, { bigEndianFamily: true });
  if ([12, 14, 228, 229].includes(linkType)) return eth.subarray(14);
  return reframe(eth, linkType, opts);
}

describe('a synthetic Ethernet header for every link type the simulator reads', () => {
  const links: [string, number, { bigEndianFamily?: boolean }?][] = [
    ['NULL (host order)', 0], ['NULL (network order)', 0, { bigEndianFamily: true }], ['LOOP', 108],
    ['raw IP', 101], ['raw IP (12)', 12], ['raw IP (14)', 14], ['Linux SLL', 113], ['Linux SLL2', 276],
  ];
  const families = [['IPv4', '10.0.0.1', '10.0.0.2', 228], ['IPv6', 'fd00::1', 'fd00::2', 229]] as const;
  for (const [family, src, dst, rawOnly] of families) {
    for (const [name, lt, opts] of [...links, [`${family} only`, rawOnly] as [string, number]]) {
      it(`${name}, ${family}: the IP packet behind an Ethernet header with its ethertype`, () => {
        const eth = seg(src, dst, bytes(100));
        const data = onLink(eth, lt, opts);
        const v = new PacketView();
        assert.equal(decodeInto(v, lt, data), 'tcp');
        const out = ethernetFrame(v, lt, data);
        assert.deepEqual([...out.subarray(12)], [...eth.subarray(12)], 'ethertype and IP packet as in the Ethernet capture');
        assert.ok(checksumsValid(out));
      });
    }
  }

  it('an Ethernet frame is fed as captured (VLAN tags and all)', () => {
    const eth = reframe(seg('10.0.0.1', '10.0.0.2', bytes(10)), 1, { vlan: 7 });
    const v = new PacketView();
    decodeInto(v, 1, eth);
    assert.equal(ethernetFrame(v, 1, eth), eth);
  });
});

/** Decodes a piece and returns what the kernel program reads of it. */
function fields(f: Uint8Array) {
  const v = new PacketView();
  assert.equal(decodeInto(v, 1, f), 'tcp');
  return { seq: v.seq, flags: v.flags, payload: f.subarray(v.payloadOff, v.payloadOff + v.payloadLen), ipId: v.ipVersion === 4 ? (f[18]! << 8) | f[19]! : 0 };
}

function pieces(eth: Uint8Array): Uint8Array[] {
  const v = new PacketView();
  decodeInto(v, 1, eth);
  return tcpPieces(v, eth);
}

describe('a TCP frame over the test_run limit becomes MSS-sized TCP packets', () => {
  for (const [name, src, dst, mss] of [['IPv4', '10.0.0.1', '10.0.0.2', 1460], ['IPv6', 'fd00::1', 'fd00::2', 1440]] as const) {
    it(`${name}: 20 KB -> same bytes in order, sequence advanced, lengths and checksums valid, FIN/PSH on the last piece only`, () => {
      const data = bytes(20_000);
      const out = pieces(seg(src, dst, data, TCP_ACK | TCP_PSH | TCP_FIN));
      assert.equal(out.length, Math.ceil(20_000 / mss));
      let at = 0;
      out.forEach((p, i) => {
        const f = fields(p);
        assert.ok(p.length <= TEST_RUN_MAX_FRAME && p.length <= 14 + 1500, `piece ${i} is ${p.length} bytes`);
        assert.ok(checksumsValid(p), `piece ${i}: IP header and TCP checksums`);
        assert.equal(f.seq, 1000 + at);
        assert.equal(f.flags, i === out.length - 1 ? TCP_ACK | TCP_PSH | TCP_FIN : TCP_ACK);
        assert.deepEqual(f.payload, data.subarray(at, at + f.payload.length));
        at += f.payload.length;
      });
      assert.equal(at, data.length);
    });
  }

  it('IPv4 pieces count their IP ID up from the frame\'s, as GSO does', () => {
    assert.deepEqual(pieces(seg('10.0.0.1', '10.0.0.2', bytes(5000))).map((p) => fields(p).ipId), [0, 1, 2, 3]);
  });

  it('a SYN with data: SYN on the first piece only, the data after the SYN\'s sequence number', () => {
    const out = pieces(seg('10.0.0.1', '10.0.0.2', bytes(4000), TCP_SYN, 77)).map(fields);
    assert.deepEqual(out.map((f) => f.flags), [TCP_SYN, 0, 0]);
    assert.deepEqual(out.map((f) => f.seq), [77, 77 + 1 + 1460, 77 + 1 + 2920]);
  });

  it('the sequence number wraps at 2^32', () => {
    const out = pieces(seg('10.0.0.1', '10.0.0.2', bytes(4000), TCP_ACK, 0xffff_fff0)).map(fields);
    assert.deepEqual(out.map((f) => f.seq), [0xffff_fff0, (0xffff_fff0 + 1460) >>> 0, (0xffff_fff0 + 2920) >>> 0]);
  });
});

describe('testRunFrames', () => {
  const v = new PacketView();
  it('a frame within the limit runs whole, one over it in pieces', () => {
    assert.equal(testRunFrames(v, seg('10.0.0.1', '10.0.0.2', bytes(TEST_RUN_MAX_FRAME - 54))).frames.length, 1);
    assert.equal(testRunFrames(v, seg('10.0.0.1', '10.0.0.2', bytes(TEST_RUN_MAX_FRAME - 53))).frames.length, 3);
  });

  it('link padding past the IP length is trimmed, not split', () => {
    const eth = seg('10.0.0.1', '10.0.0.2', bytes(100));
    const padded = new Uint8Array(TEST_RUN_MAX_FRAME + 10);
    padded.set(eth);
    const r = testRunFrames(v, padded);
    assert.deepEqual(r.frames.map((f) => f.length), [eth.length]);
  });

  it('a non-TCP frame over the limit is cut to it with its IP length fixed (its headers are what the program reads)', () => {
    const udp = seg('10.0.0.1', '10.0.0.2', bytes(9000));
    udp[23] = 17; // protocol UDP; the header checksum is recomputed by the cut
    const r = testRunFrames(v, udp);
    assert.equal(r.cut, true);
    assert.equal(r.frames[0]!.length, TEST_RUN_MAX_FRAME);
    assert.equal((r.frames[0]![16]! << 8) | r.frames[0]![17]!, TEST_RUN_MAX_FRAME - 14);
  });
});

const kp = (pieces: number, cut = false): KernelPacket => ({ index: 0, offset: 0, programs: ['l7_to_pod'], action: 'pass', pieces, cut });

describe('splitSummary', () => {
  it('says how many frames were split and into how many pieces', () => {
    assert.equal(splitSummary([kp(1), kp(14), kp(1), kp(3), kp(0)]), `kernel: 2 frame(s) over test_run's ${TEST_RUN_MAX_FRAME} bytes split into 17 TCP piece(s)`);
    assert.match(splitSummary([kp(1, true)]) ?? '', /1 non-TCP frame\(s\) cut/);
    assert.equal(splitSummary([kp(1), kp(0)]), null);
  });
});

describe('a failed test_run says what the kernel refused', () => {
  it('EINVAL: "too large" only over the limit, the Ethernet minimum only under it, else the other arguments', () => {
    assert.match(testRunHint(22, TEST_RUN_MAX_FRAME + 1), new RegExp(`at most ${TEST_RUN_MAX_FRAME} bytes`));
    assert.match(testRunHint(22, 13), /at least an Ethernet header/);
    const within = testRunHint(22, 100);
    assert.doesNotMatch(within, /at most|too large|at least/);
    assert.match(within, /within test_run's 14\.\.\d+ bytes, so the kernel refused another argument/);
    assert.match(testRunHint(1, 100), /root/);
    assert.match(testRunHint(28, 100), /output buffer/);
  });

  it('replay --kernel names the packet and capture offset of a failed run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l7bpf-krf-'));
    try {
      const path = join(dir, 'x.o');
      writeFileSync(path, 'not really elf');
      const lib = new FakeLibbpf({ programs: ['l7_from_pod', 'l7_to_pod'], maps: [{ name: 'events', type: 27, keySize: 0, valueSize: 0, maxEntries: 4096 }] });
      lib.testRunImpl = () => ({ err: -22, retval: 0, durationNs: 0, dataOut: Buffer.alloc(0) });
      const inv = parseInventory('endpoints:\n  - {name: b, labels: {app: b}, ips: [10.0.0.2]}\n', 'inv.yaml').inventory;
      const k = new KernelReplayer(loadObject(lib, path), inv);
      const rec = { linkType: 1, data: seg('10.0.0.1', '10.0.0.2', bytes(10)), origLen: 64, offset: 4242, interfaceId: 0, ts: 0n };
      assert.throws(() => k.push(6, rec), (e: unknown) => {
        assert.ok(e instanceof TestRunError);
        assert.match(e.message, /^packet #7 \(capture offset 4242\): loader: BPF_PROG_TEST_RUN of l7_to_pod failed on a 64-byte frame \(errno 22\)/);
        assert.doesNotMatch(e.message, /at most/);
        return true;
      });
      k.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
