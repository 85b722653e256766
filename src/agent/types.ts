// What the agent's sources hand the reconciler: the whole desired state at one moment, as text
// (so every diagnostic keeps its file:line:col, or the Kubernetes object it came from).
// A source calls back with a new Snapshot whenever what it watches changes; the reconciler
// debounces, compares and applies (src/agent/reconcile.ts).

/** One input document: a file, or Kubernetes objects rendered as a YAML/JSON stream. */
export interface SourceText {
  /** what diagnostics name: a path, or e.g. "kubernetes:CiliumNetworkPolicy/default/allow-get" */
  readonly name: string;
  readonly text: string;
}

export interface Snapshot {
  /** CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents (src/policy parsePolicies) */
  readonly policies: readonly SourceText[];
  /** the inventory: our `inventory:` YAML or a `kubectl get pods,nodes,services -o json` List
   * (src/endpoints parseInventory); null when the source has none yet */
  readonly inventory: SourceText | null;
  /** pod ("namespace/name" or name) -> host-side interface, for the endpoints of this node */
  readonly ifaceOf: Readonly<Record<string, string>>;
  /** a short description for logs and /readyz, e.g. "3 policies, 12 pods (resourceVersion 4711)" */
  readonly describe: string;
}

export interface AgentSource {
  /** e.g. "directory /etc/l7bpf" or "kubernetes https://10.96.0.1:443" */
  readonly name: string;
  /** Starts watching; `update` gets a full Snapshot after the first complete read and after
   * every change; `problem` gets a reason when the source cannot be read (it keeps trying). */
  start(update: (s: Snapshot) => void, problem: (reason: string) => void): Promise<void>;
  stop(): Promise<void>;
}
