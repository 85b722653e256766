// `l7bpf replay CAPTURE --kernel DIR`: every packet of a capture through the compiled object
// with BPF_PROG_TEST_RUN (flow state kept between packets), side by side with the
// simulator, packet by packet. The object and the simulator must agree on every packet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SelectorIR } from '../../codegen/ir/types.ts';
import type { Inventory } from '../endpoints/types.ts';
import { endpointByIp } from '../endpoints/lookup.ts';
import { parseIp } from '../net/ip.ts';
import { openLibbpf } from '../loader/libbpf.ts';
import { loadObject } from '../loader/object.ts';
import { fillIpcache, fillSelectors } from '../loader/maps.ts';
import { PacketRunner, TC_ACT, type ProgName } from '../loader/testrun.ts';
import { VERDICT } from '../loader/event.generated.ts';
import { planMaps } from '../loader/plan.ts';
import { PacketView, decodeInto, dstString, srcString } from '../../sim/decode/index.ts';
import type { CaptureRecord, PacketActionKind, PacketEvent } from '../../sim/index.ts';

export interface KernelPacket {
  readonly index: number;
  readonly offset: number;
  /** programs run, in order (empty: no local endpoint on either side) */
  readonly programs: readonly ProgName[];
  readonly action: PacketActionKind;
}

export interface Disagreement {
  readonly index: number;
  readonly offset: number;
  readonly kernel: PacketActionKind;
  readonly simulator: PacketActionKind;
  readonly reason: string;
}

const ETHERTYPE = { 4: 0x0800, 6: 0x86dd } as const;

export class KernelReplayer {
  private readonly runner: PacketRunner;
  private readonly view = new PacketView();

  constructor(private readonly obj: ReturnType<typeof loadObject>, private readonly inv: Inventory) {
    this.runner = new PacketRunner(obj);
  }

  static open(dir: string, inv: Inventory): KernelReplayer {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { selectors: SelectorIR[] };
    const obj = loadObject(openLibbpf(), join(dir, 'l7bpf.o'));
    const plan = planMaps(manifest.selectors, inv);
    fillIpcache(obj, plan.ipcache);
    fillSelectors(obj, plan.selectors);
    return new KernelReplayer(obj, inv);
  }

  /** Runs one captured frame through the programs of the endpoints it leaves and enters. */
  push(index: number, r: CaptureRecord): KernelPacket {
    if (decodeInto(this.view, r.linkType, r.data) !== 'tcp' && this.view.ipVersion === 0) {
      return { index, offset: r.offset, programs: [], action: 'pass' };
    }
    const frame = ethernetFrame(this.view, r);
    const programs: ProgName[] = [];
    if (this.isLocal(srcString(this.view))) programs.push('l7_from_pod');
    if (this.isLocal(dstString(this.view))) programs.push('l7_to_pod');
    let action: PacketActionKind = 'pass';
    for (const prog of programs) {
      const res = this.runner.run({ prog, frame });
      if (res.action === TC_ACT.SHOT) action = 'drop';
      else if (res.events.some((e) => e.verdict === VERDICT.RESET)) action = 'reset';
      if (action !== 'pass') break;
    }
    return { index, offset: r.offset, programs, action };
  }

  private isLocal(ip: string): boolean {
    const addr = parseIp(ip);
    return addr !== null && endpointByIp(this.inv, addr) !== null;
  }

  close(): void {
    this.runner.close();
    this.obj.close();
  }
}

/** BPF_PROG_TEST_RUN takes Ethernet frames: other link types get a synthetic header. */
function ethernetFrame(v: PacketView, r: CaptureRecord): Uint8Array {
  if (r.linkType === 1) return r.data;
  const ip = r.data.subarray(v.ipOff);
  const out = new Uint8Array(14 + ip.length);
  out.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  const type = v.ipVersion === 6 ? ETHERTYPE[6] : ETHERTYPE[4];
  out[12] = type >> 8;
  out[13] = type & 0xff;
  out.set(ip, 14);
  return out;
}

export function compareActions(kernel: readonly KernelPacket[], sim: readonly PacketEvent[]): Disagreement[] {
  const out: Disagreement[] = [];
  for (const k of kernel) {
    const s = sim[k.index];
    if (s && s.action !== k.action) out.push({ index: k.index, offset: k.offset, kernel: k.action, simulator: s.action, reason: s.reason });
  }
  return out;
}
