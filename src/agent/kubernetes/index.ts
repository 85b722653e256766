// The Kubernetes source of `l7bpf agent` (docs/agent-kubernetes.md).
export { KubernetesSource, kubeConfigFrom, localEndpoints, type KubernetesSourceOptions, type SourceTiming } from './source.ts';
export { RouteTableResolver, resolveInterfaces, type InterfaceResolver, type LocalEndpoint, type Resolution, type RunCommand } from './interfaces.ts';
