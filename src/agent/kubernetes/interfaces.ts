// Which host-side interface belongs to each endpoint of this node. Cilium's CNI names the
// host end of a pod's veth "lxc" + the first 12 hex digits of sha256(<CNI container id>:<ifname>)
// (pkg/datapath/connector Endpoint2IfName, plugins/cilium-cni cmd.go; older releases hashed the
// container id alone). The CNI container id is the pod sandbox's, which no API object carries
// (status.containerStatuses lists the app containers), so the name cannot be computed from
// the API. What the node itself knows can: the CNI installs a host route to each pod address
// straight through that veth (Cilium with endpoint routes, and the topology of our tests), so
// the default resolver reads the node's routing table once and takes, per pod IP, the /32 or
// /128 route's device, if it is a veth (or netkit). A configurable map overrides it per pod.
import { execFile } from 'node:child_process';

export interface LocalEndpoint {
  /** "namespace/name" */
  readonly key: string;
  readonly ips: readonly string[];
}

export interface Resolution {
  readonly ifaceOf: Readonly<Record<string, string>>;
  /** endpoints with no interface, each with the reason */
  readonly unresolved: readonly { readonly key: string; readonly reason: string }[];
}

export interface InterfaceResolver {
  resolve(eps: readonly LocalEndpoint[]): Promise<Resolution>;
}

/** runs a command, resolves with its stdout (an injected fake in tests) */
export type RunCommand = (file: string, args: readonly string[]) => Promise<string>;

/** The map's entries first ("namespace/name", or a bare name for namespace default), then the resolver for the rest. */
export async function resolveInterfaces(eps: readonly LocalEndpoint[], map: Readonly<Record<string, string>>, resolver: InterfaceResolver | null): Promise<Resolution> {
  const ifaceOf: Record<string, string> = {};
  const rest: LocalEndpoint[] = [];
  for (const ep of eps) {
    const fixed = map[ep.key] ?? (ep.key.startsWith('default/') ? map[ep.key.slice('default/'.length)] : undefined);
    if (fixed) ifaceOf[ep.key] = fixed;
    else rest.push(ep);
  }
  if (rest.length === 0) return { ifaceOf, unresolved: [] };
  if (!resolver) return { ifaceOf, unresolved: rest.map((ep) => ({ key: ep.key, reason: 'not in the interface map' })) };
  const found = await resolver.resolve(rest);
  return { ifaceOf: { ...ifaceOf, ...found.ifaceOf }, unresolved: found.unresolved };
}

interface RouteEntry {
  dst?: string;
  dev?: string;
  gateway?: string;
}

interface LinkEntry {
  ifname?: string;
  linkinfo?: { info_kind?: string };
}

/** the device kinds a CNI puts between a pod and its node */
const POD_LINK_KINDS = ['veth', 'netkit'];

export class RouteTableResolver implements InterfaceResolver {
  constructor(private readonly run: RunCommand = runCommand) {}

  async resolve(eps: readonly LocalEndpoint[]): Promise<Resolution> {
    let routes: Map<string, RouteEntry>;
    let kinds: Map<string, string>;
    try {
      [routes, kinds] = await Promise.all([this.hostRoutes(), this.linkKinds()]);
    } catch (e) {
      const reason = `cannot read the node's routes (ip -j route): ${(e as Error).message}`;
      return { ifaceOf: {}, unresolved: eps.map((ep) => ({ key: ep.key, reason })) };
    }
    const ifaceOf: Record<string, string> = {};
    const unresolved: { key: string; reason: string }[] = [];
    for (const ep of eps) {
      const found = interfaceOf(ep, routes, kinds);
      if ('iface' in found) ifaceOf[ep.key] = found.iface;
      else unresolved.push({ key: ep.key, reason: found.reason });
    }
    return { ifaceOf, unresolved };
  }

  /** host routes (a /32 or /128, or no prefix) of the main table, IPv4 and IPv6, by address */
  private async hostRoutes(): Promise<Map<string, RouteEntry>> {
    const [v4, v6] = await Promise.all([this.json<RouteEntry>(['-j', '-4', 'route', 'show']), this.json<RouteEntry>(['-j', '-6', 'route', 'show'])]);
    const out = new Map<string, RouteEntry>();
    for (const r of [...v4, ...v6]) {
      const host = r.dst?.replace(/\/(32|128)$/, '');
      if (host && !host.includes('/')) out.set(host, r);
    }
    return out;
  }

  private async linkKinds(): Promise<Map<string, string>> {
    const links = await this.json<LinkEntry>(['-j', '-d', 'link', 'show']);
    return new Map(links.map((l) => [l.ifname ?? '', l.linkinfo?.info_kind ?? '']));
  }

  private async json<T>(args: readonly string[]): Promise<T[]> {
    const out = (await this.run('ip', args)).trim();
    return out ? (JSON.parse(out) as T[]) : [];
  }
}

function interfaceOf(ep: LocalEndpoint, routes: ReadonlyMap<string, RouteEntry>, kinds: ReadonlyMap<string, string>): { iface: string } | { reason: string } {
  const reasons: string[] = [];
  for (const ip of ep.ips) {
    const r = routes.get(ip);
    const kind = r?.dev ? kinds.get(r.dev) : undefined;
    if (!r?.dev) reasons.push(`no host route to ${ip} on this node (Cilium installs one per endpoint with endpoint routes; else give an interface map)`);
    else if (r.gateway) reasons.push(`the route to ${ip} goes via ${r.gateway}, not straight to a pod`);
    else if (!kind || !POD_LINK_KINDS.includes(kind)) reasons.push(`the route to ${ip} leaves by ${r.dev}${kind ? ` (${kind})` : ''}, which is not a pod's veth`);
    else return { iface: r.dev };
  }
  return { reason: reasons.join('; ') || 'the pod has no IP' };
}

/** Reading the tables takes milliseconds; a hung `ip` must not hold up every snapshot. */
const COMMAND_TIMEOUT_MS = 5000;

function runCommand(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}
