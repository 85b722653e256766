// GetNamespaces' answer, kept as Hubble's local observer keeps it (cilium
// pkg/hubble/observer/namespace): every flow's source and destination namespaces are noted as it
// arrives, each is forgotten an hour after its last flow, and the list is sorted by cluster,
// then namespace. The cluster is "" as Hubble sends it when the cluster name is the default
// ("default"): l7bpf has no cluster name of its own.
import type { HistoryEntry } from '../observe/history.ts';

/** Hubble's namespaceTTL */
export const NAMESPACE_TTL_MS = 60 * 60 * 1000;

export interface SeenNamespace {
  readonly cluster: string;
  readonly namespace: string;
}

interface FlowSides {
  readonly flow?: { readonly source?: { readonly namespace?: string }; readonly destination?: { readonly namespace?: string } };
}

export class NamespaceTracker {
  /** namespace -> when a flow last named it (ms since the epoch) */
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Notes the namespaces of the entry's flows (jsonpb GetFlowsResponse lines). */
  note(entry: HistoryEntry): void {
    const at = this.now();
    for (const line of entry.flows) for (const ns of namespacesOf(line)) this.lastSeen.set(ns, at);
  }

  /** The namespaces seen within the last hour, sorted; older ones are dropped. */
  list(): SeenNamespace[] {
    const oldest = this.now() - NAMESPACE_TTL_MS;
    for (const [ns, at] of this.lastSeen) if (at < oldest) this.lastSeen.delete(ns);
    return [...this.lastSeen.keys()].sort().map((namespace) => ({ cluster: '', namespace }));
  }
}

/** A flow's non-empty source and destination namespaces; a line that does not parse has none. */
function namespacesOf(line: string): string[] {
  let flow: FlowSides['flow'];
  try {
    flow = (JSON.parse(line) as FlowSides).flow;
  } catch {
    return [];
  }
  return [flow?.source?.namespace, flow?.destination?.namespace].filter((ns): ns is string => !!ns);
}
