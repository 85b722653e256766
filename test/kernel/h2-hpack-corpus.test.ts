// The kernel's HPACK decoder on every story of L7BPF_CORPORA/hpack: a story is one HTTP/2
// connection, each case's wire block a HEADERS frame on the next stream, so the dynamic
// table carries across the story as the encoder built it. The object is built with
// L7_H2_TRACE (bpf-templates/l7_http2.h): every block is allowed and its event reports the
// fields decoded, their RFC 7541 octets and the table's octets and entries after the block.
// The simulator's decoder (sim/http2/hpack.ts, which decodes the corpus to its header lists,
// test/http2/hpack.test.ts) gives the same for every block; where it refuses a block (a
// table above the 4096 octets mirrored), the kernel denies it as h2-hpack.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { kernelSkip } from '../helpers/kernel.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { DEFAULT_LIMITS, TEMPLATES_DIR, renderPolicyHeader } from '../../codegen/emit/index.ts';
import { runClang } from '../../codegen/emit/clang.ts';
import { HpackDecoder, HpackError } from '../../sim/http2/hpack.ts';
import { DEFAULT_LIMITS as SEMANTIC_LIMITS } from '../../src/verdict/limits.ts';
import { connPackets, kernelVerdict, loadWorld, runKernel } from '../helpers/kernel-world.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { FLAG, FRAME, frame, PREFACE, settings } from '../helpers/h2-wire.ts';
import { EVENT_KIND, REASON } from '../../src/loader/event.generated.ts';

const root = resolve(process.cwd(), process.env.L7BPF_CORPORA ?? '../shared/corpora', 'hpack');
const skip = kernelSkip() || (existsSync(root) ? false : `hpack corpus not found at ${root} (set L7BPF_CORPORA)`);


interface Story { readonly cases: readonly { readonly wire: string }[] }

/** What a decoder makes of a block: fields, their octets, then the table's octets and entries. */
type Trace = readonly [number, number, number, number];

function expected(blocks: readonly Uint8Array[]): { traces: Trace[]; refused: number } {
  const d = new HpackDecoder(SEMANTIC_LIMITS.h2TableBytes);
  const traces: Trace[] = [];
  for (const b of blocks) {
    try {
      const fields = d.decode(b);
      traces.push([fields.length, fields.reduce((n, [k, v]) => n + k.length + v.length + 32, 0), d.tableSize, d.tableLength]);
    } catch (e) {
      if (e instanceof HpackError) return { traces, refused: traces.length };
      throw e;
    }
  }
  return { traces, refused: -1 };
}

const tmp = mkdtempSync(join(tmpdir(), 'l7bpf-h2corpus-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the kernel decodes every hpack corpus story as the simulator does', { skip }, () => {
  // every request allowed on port 80: only decoding decides
  const ia = inspectAll();
  const ir = lower(ia.policies);
  mkdirSync(tmp, { recursive: true });
  const header = renderPolicyHeader({ ir, hash: createHash('sha256').update('h2-trace').digest('hex'), limits: DEFAULT_LIMITS });
  writeFileSync(join(tmp, 'policy.h'), `${header}\n#define L7_H2_TRACE 1\n`);
  runClang(TEMPLATES_DIR, tmp);
  const w = loadWorld(ir, join(tmp, 'l7bpf.o'), ia.inv);
  const { client, server } = ia;
  let blocks = 0;
  let refused = 0;
  try {
    for (const enc of readdirSync(root).filter((d) => existsSync(join(root, d, 'story_00.json')))) {
      for (const file of readdirSync(join(root, enc)).filter((f) => f.endsWith('.json')).sort()) {
        const story = JSON.parse(readFileSync(join(root, enc, file), 'utf8')) as Story;
        const wires = story.cases.map((c) => Uint8Array.from(Buffer.from(c.wire, 'hex')));
        const want = expected(wires);
        const bytes = Buffer.concat([PREFACE, settings(), ...wires.map((b, i) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1 + 2 * i, b))]);
        w.reset();
        const run = runKernel(w, client, server, connPackets(client, server, 80, bytes, false)!);
        const got: Trace[] = run.events
          .filter((e) => e.kind === EVENT_KIND.HTTP && e.reason === REASON.NONE)
          .map((e) => {
            const l = Buffer.from(e.line);
            return [l.readUInt32LE(0), l.readUInt32LE(4), l.readUInt16LE(8), l[10]!] as const;
          });
        const at = `${enc}/${file}`;
        assert.deepEqual(got, want.traces, `${at}: per block [fields, octets, table octets, table entries]`);
        if (want.refused >= 0) {
          refused++;
          assert.equal(kernelVerdict(run), 'denied strict:h2-hpack', `${at}: block ${want.refused} is refused by the simulator's decoder`);
        } else {
          assert.equal(kernelVerdict(run), 'allowed', at);
        }
        blocks += got.length;
      }
    }
  } finally {
    w.close();
  }
  console.log(`hpack corpus in the kernel: ${blocks} blocks decoded as the simulator does; ${refused} stories refused where the table outgrows 4096 octets`);
  assert.ok(blocks > 15000, `${blocks} blocks`);
});
