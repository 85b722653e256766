// Hubble's Observer API (cilium api/v1/observer/observer.proto), its peer service
// (api/v1/peer/peer.proto) and the flow filters it takes
// (FlowFilter, EventTypeFilter of api/v1/flow/flow.proto), the subset l7bpf serves, with
// Hubble's package names, field names and numbers, built as descriptors at run time like
// src/flow/proto.ts. FlowFilter is held in a file of its own in package `flow` so that
// src/flow/proto.ts (what replay and observe print) stays as it is; on the wire only the
// package-qualified names and the numbers count.
import { create, createFileRegistry, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FieldDescriptorProto_Type as T, file_google_protobuf_timestamp, file_google_protobuf_wrappers } from '@bufbuild/protobuf/wkt';
import { enm, msg, registryForJson, type Field } from '../flow/proto.ts';

const M = T.MESSAGE;
const strings = (name: string, number: number): Field => [name, number, T.STRING, undefined, true];

const filterFile = create(FileDescriptorProtoSchema, {
  name: 'flow/flow_filter.proto',
  package: 'flow',
  syntax: 'proto3',
  dependency: ['flow/flow.proto'],
  messageType: [
    msg('EventTypeFilter', [['type', 1, T.INT32], ['match_sub_type', 2, T.BOOL], ['sub_type', 3, T.INT32]]),
    msg('Workload', [['name', 1, T.STRING], ['kind', 2, T.STRING]]),
    msg('FlowFilter', [
      strings('uuid', 29), strings('source_ip', 1), strings('source_pod', 2), strings('source_fqdn', 7), strings('source_label', 10),
      strings('source_service', 16), ['source_workload', 26, M, '.flow.Workload', true],
      strings('destination_ip', 3), strings('destination_pod', 4), strings('destination_fqdn', 8), strings('destination_label', 11),
      strings('destination_service', 17), ['destination_workload', 27, M, '.flow.Workload', true],
      ['traffic_direction', 30, T.ENUM, '.flow.TrafficDirection', true], ['verdict', 5, T.ENUM, '.flow.Verdict', true],
      ['event_type', 6, M, '.flow.EventTypeFilter', true], strings('http_status_code', 9), strings('protocol', 12),
      strings('source_port', 13), strings('destination_port', 14), ['reply', 15, T.BOOL, undefined, true], strings('dns_query', 18),
      ['source_identity', 19, T.UINT32, undefined, true], ['destination_identity', 20, T.UINT32, undefined, true],
      strings('http_method', 21), strings('http_path', 22), ['tcp_flags', 23, M, '.flow.TCPFlags', true], strings('node_name', 24),
      ['ip_version', 25, T.ENUM, '.flow.IPVersion', true], strings('trace_id', 28),
    ]),
  ],
});

const observerFile = create(FileDescriptorProtoSchema, {
  name: 'observer/observer.proto',
  package: 'observer',
  syntax: 'proto3',
  dependency: ['google/protobuf/timestamp.proto', 'google/protobuf/wrappers.proto', 'flow/flow.proto', 'flow/flow_filter.proto'],
  messageType: [
    msg('ServerStatusRequest', []),
    msg('ServerStatusResponse', [
      ['num_flows', 1, T.UINT64], ['max_flows', 2, T.UINT64], ['seen_flows', 3, T.UINT64], ['uptime_ns', 4, T.UINT64],
      ['num_connected_nodes', 5, M, '.google.protobuf.UInt32Value'], ['num_unavailable_nodes', 6, M, '.google.protobuf.UInt32Value'],
      strings('unavailable_nodes', 7), ['version', 8, T.STRING], ['flows_rate', 9, T.DOUBLE],
    ]),
    msg('GetFlowsRequest', [
      ['number', 1, T.UINT64], ['first', 9, T.BOOL], ['follow', 3, T.BOOL],
      ['blacklist', 5, M, '.flow.FlowFilter', true], ['whitelist', 6, M, '.flow.FlowFilter', true],
      ['since', 7, M, '.google.protobuf.Timestamp'], ['until', 8, M, '.google.protobuf.Timestamp'],
    ]),
    // node_status (2) and lost_events (3) of the oneof are never sent by l7bpf
    msg('GetFlowsResponse', [['flow', 1, M, '.flow.Flow', false, 0], ['node_name', 1000, T.STRING], ['time', 1001, M, '.google.protobuf.Timestamp']], ['response_types']),
    msg('GetNodesRequest', []),
    msg('GetNodesResponse', [['nodes', 1, M, '.observer.Node', true]]),
    msg('Node', [
      ['name', 1, T.STRING], ['version', 2, T.STRING], ['address', 3, T.STRING], ['state', 4, T.ENUM, '.observer.NodeState'],
      ['tls', 5, M, '.observer.TLS'], ['uptime_ns', 6, T.UINT64], ['num_flows', 7, T.UINT64], ['max_flows', 8, T.UINT64], ['seen_flows', 9, T.UINT64],
    ]),
    msg('TLS', [['enabled', 1, T.BOOL], ['server_name', 2, T.STRING]]),
    // GetNamespaces (a newer Hubble's, for Hubble UI's namespace list)
    msg('GetNamespacesRequest', []),
    msg('GetNamespacesResponse', [['namespaces', 1, M, '.observer.Namespace', true]]),
    msg('Namespace', [['cluster', 1, T.STRING], ['namespace', 2, T.STRING]]),
  ],
  // relay.NodeState (api/v1/relay/relay.proto), held here: l7bpf serves no relay messages
  enumType: [enm('NodeState', [['UNKNOWN_NODE_STATE', 0], ['NODE_CONNECTED', 1], ['NODE_UNAVAILABLE', 2], ['NODE_GONE', 3], ['NODE_ERROR', 4]])],
  service: [{
    name: 'Observer',
    method: [
      { name: 'GetFlows', inputType: '.observer.GetFlowsRequest', outputType: '.observer.GetFlowsResponse', serverStreaming: true },
      { name: 'GetNodes', inputType: '.observer.GetNodesRequest', outputType: '.observer.GetNodesResponse' },
      { name: 'GetNamespaces', inputType: '.observer.GetNamespacesRequest', outputType: '.observer.GetNamespacesResponse' },
      { name: 'ServerStatus', inputType: '.observer.ServerStatusRequest', outputType: '.observer.ServerStatusResponse' },
    ],
  }],
});

// Hubble's peer service (cilium api/v1/peer/peer.proto): how Hubble Relay finds the nodes
const peerFile = create(FileDescriptorProtoSchema, {
  name: 'peer/peer.proto',
  package: 'peer',
  syntax: 'proto3',
  messageType: [
    msg('NotifyRequest', []),
    msg('ChangeNotification', [['name', 1, T.STRING], ['address', 2, T.STRING], ['type', 3, T.ENUM, '.peer.ChangeNotificationType'], ['tls', 4, M, '.peer.TLS']]),
    msg('TLS', [['server_name', 1, T.STRING]]),
  ],
  enumType: [enm('ChangeNotificationType', [['UNKNOWN', 0], ['PEER_ADDED', 1], ['PEER_DELETED', 2], ['PEER_UPDATED', 3]])],
  service: [{ name: 'Peer', method: [{ name: 'Notify', inputType: '.peer.NotifyRequest', outputType: '.peer.ChangeNotification', serverStreaming: true }] }],
});

const flowFile = registryForJson.getFile('flow/flow.proto');
const deps = (name: string) =>
  name === 'flow/flow.proto' ? flowFile : name === 'google/protobuf/timestamp.proto' ? file_google_protobuf_timestamp : name === 'google/protobuf/wrappers.proto' ? file_google_protobuf_wrappers : undefined;
const filters = createFileRegistry(filterFile, deps);
/** flow.proto, the filters and observer.proto together (JSON of a GetFlowsResponse needs them all) */
export const hubbleRegistry = createFileRegistry(observerFile, (name) => (name === 'flow/flow_filter.proto' ? filters.getFile(name) : deps(name)));

const peerRegistry = createFileRegistry(peerFile, () => undefined);

function message(name: string, registry = hubbleRegistry): DescMessage {
  const m = registry.getMessage(name);
  if (!m) throw new Error(`hubble protos: no message ${name}`);
  return m;
}

function service(name: string, registry = hubbleRegistry): DescService {
  const s = registry.getService(name);
  if (!s) throw new Error(`hubble protos: no service ${name}`);
  return s;
}

export const FlowFilterSchema = message('flow.FlowFilter');
export const GetFlowsRequestSchema = message('observer.GetFlowsRequest');
export const GetFlowsResponseSchema = message('observer.GetFlowsResponse');
export const ServerStatusResponseSchema = message('observer.ServerStatusResponse');
export const GetNodesResponseSchema = message('observer.GetNodesResponse');
export const GetNamespacesResponseSchema = message('observer.GetNamespacesResponse');
export const ObserverService = service('observer.Observer');
export const ChangeNotificationSchema = message('peer.ChangeNotification', peerRegistry);
export const PeerService = service('peer.Peer', peerRegistry);

/** relay.NodeState */
export const NODE_STATE = { connected: 1 } as const;

/** peer.ChangeNotificationType */
export const PEER_CHANGE = { added: 1, deleted: 2, updated: 3 } as const;

/** The messages as l7bpf reads and writes them (protobuf-es field names; 64-bit as bigint). */
export interface Timestamp {
  readonly seconds: bigint;
  readonly nanos: number;
}

export interface EventTypeFilter {
  readonly type: number;
  readonly matchSubType: boolean;
  readonly subType: number;
}

export interface TcpFlags {
  readonly FIN?: boolean;
  readonly SYN?: boolean;
  readonly RST?: boolean;
  readonly PSH?: boolean;
  readonly ACK?: boolean;
  readonly URG?: boolean;
  readonly ECE?: boolean;
  readonly CWR?: boolean;
  readonly NS?: boolean;
}

/** flow.FlowFilter: every repeated field, as decoded (absent fields are empty lists). */
export interface FlowFilter {
  readonly uuid: readonly string[];
  readonly sourceIp: readonly string[];
  readonly sourcePod: readonly string[];
  readonly destinationIp: readonly string[];
  readonly destinationPod: readonly string[];
  readonly trafficDirection: readonly number[];
  readonly verdict: readonly number[];
  readonly eventType: readonly EventTypeFilter[];
  readonly httpStatusCode: readonly string[];
  readonly protocol: readonly string[];
  readonly sourcePort: readonly string[];
  readonly destinationPort: readonly string[];
  readonly reply: readonly boolean[];
  readonly sourceIdentity: readonly number[];
  readonly destinationIdentity: readonly number[];
  readonly httpMethod: readonly string[];
  readonly httpPath: readonly string[];
  readonly tcpFlags: readonly TcpFlags[];
  readonly ipVersion: readonly number[];
  /** fields a newer Hubble sends that this descriptor does not name (by number) */
  readonly $unknown?: readonly { readonly no: number }[];
}

export interface GetFlowsRequest {
  readonly number: bigint;
  readonly first: boolean;
  readonly follow: boolean;
  readonly blacklist: readonly FlowFilter[];
  readonly whitelist: readonly FlowFilter[];
  readonly since?: Timestamp;
  readonly until?: Timestamp;
  readonly $unknown?: readonly { readonly no: number }[];
}
