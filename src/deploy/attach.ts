// tc attachment of the two programs on an endpoint's host-side veth.
//
// Why tc clsact (bpf_tc_*) rather than TCX links: it works on every kernel the datapath
// supports (TCX needs 6.6), libbpf 1.1.2 has it natively (no bpf_program__attach_tcx),
// filters survive the loader process without pinning links, `tc filter show` sees them,
// and BPF_TC_F_REPLACE on the same handle/priority swaps the program of an existing filter
// in one netlink request: the filter never goes away, so there is no window without a
// program during a policy swap (TCX gives the same through bpf_link_update).
import { TC_EGRESS, TC_INGRESS, type Libbpf, type TcAttachPoint, type TcSlot } from '../loader/index.ts';

export type ProgName = 'l7_from_pod' | 'l7_to_pod';

/** tc ingress of the host-side veth sees what leaves the pod; tc egress what enters it. */
export const HOOKS: readonly { readonly point: TcAttachPoint; readonly prog: ProgName }[] = [
  { point: TC_INGRESS, prog: 'l7_from_pod' },
  { point: TC_EGRESS, prog: 'l7_to_pod' },
];

/** Our filter slot: a fixed handle, priority 1 (runs before filters other tools add at higher numbers). */
export const DEFAULT_HANDLE = 0x17b;
export const DEFAULT_PRIORITY = 1;

const ERRNO: Readonly<Record<number, string>> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 95: 'EOPNOTSUPP' };
export const errnoName = (r: number): string => ERRNO[-r] ?? `errno ${-r}`;

export class AttachError extends Error {
  readonly errno: number;
  constructor(what: string, errno: number, hint: string) {
    super(`attach: ${what}: ${errnoName(errno)} (hint: ${hint})`);
    this.name = 'AttachError';
    this.errno = errno;
  }
}

export function slotOf(ifindex: number, point: TcAttachPoint, handle = DEFAULT_HANDLE, priority = DEFAULT_PRIORITY): TcSlot {
  return { ifindex, point, handle, priority };
}

export const pointName = (p: TcAttachPoint): string => (p === TC_INGRESS ? 'ingress' : 'egress');

/** Creates the clsact qdisc; returns whether we created it (false: it was there already). */
export function ensureClsact(lib: Libbpf, ifindex: number, iface: string): boolean {
  const r = lib.tcHookCreate(ifindex, TC_INGRESS);
  if (r === 0) return true;
  if (r === -17) return false;
  throw new AttachError(`cannot create clsact qdisc on ${iface}`, r, 'run as root in the network namespace of the interface');
}

/** Attaches (or with replace, swaps in place) a program at a slot. */
export function attachAt(lib: Libbpf, slot: TcSlot, progFd: number, replace: boolean, iface: string): number {
  const r = lib.tcAttach(slot, progFd, replace);
  if (r.err === 0) return r.progId;
  const hint = r.err === -17 ? `a filter already uses handle ${slot.handle} priority ${slot.priority} on ${iface} (another deployment? see l7bpf status, tc filter show dev ${iface} ${pointName(slot.point)})` : 'run as root; is the interface up?';
  throw new AttachError(`tc ${pointName(slot.point)} of ${iface}`, r.err, hint);
}

/** Removes our filter; a missing filter or interface is not an error (already gone). */
export function detachAt(lib: Libbpf, slot: TcSlot): void {
  const r = lib.tcDetach(slot);
  if (r !== 0 && r !== -2 && r !== -19 && r !== -22) throw new AttachError(`detach from ifindex ${slot.ifindex} ${pointName(slot.point)}`, r, 'run as root');
}

/** Program id at our slot, 0 when none. */
export function attachedProgId(lib: Libbpf, slot: TcSlot): number {
  const r = lib.tcQuery(slot);
  return r.err === 0 ? r.progId : 0;
}
