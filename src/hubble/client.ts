// A client of Hubble's Observer (an l7bpf agent's, or any Hubble server's): `l7bpf observe`'s
// filters, since, last and follow as a GetFlowsRequest, as `hubble observe` builds it from the
// same flags (cilium/hubble cmd/observe), and the responses as the jsonpb lines observe prints
// from the history, built the same way (src/flow/build.ts flowJsonLine), so byte for byte alike.
import { connect as netConnect } from 'node:net';
import { create, type Message } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { messageJson } from '../flow/json.ts';
import { enumDesc, FlowSchema } from '../flow/proto.ts';
import { parseEventType, parseVerdicts, type FilterFlags } from '../observe/filters.ts';
import { FlowFilterSchema, GetFlowsRequestSchema, ObserverService } from './proto.ts';
import { formatServerAddress, type ServerAddress } from './address.ts';

export interface FlowsAsk {
  readonly filters: FilterFlags;
  readonly sinceNs?: bigint;
  readonly last?: number;
  readonly follow?: boolean;
}

/** The GetFlowsRequest for observe's options; null when the filters are not one whitelist (see
 * whitelistOf). Hubble's `number` 0 without follow is every flow, as observe without --last. */
export function requestOf(a: FlowsAsk): Message | null {
  const whitelist = whitelistOf(a.filters);
  if (!whitelist) return null;
  const since = a.sinceNs === undefined ? {} : { since: { seconds: a.sinceNs / 1_000_000_000n, nanos: Number(a.sinceNs % 1_000_000_000n) } };
  return create(GetFlowsRequestSchema, { number: BigInt(a.last ?? 0), follow: a.follow === true, whitelist, ...since });
}

/** The flags as FlowFilters, as hubble observe builds them: --pod X is two filters (source X, or
 * destination X), every other flag in both. --pod with --from-pod or --to-pod is not one list of
 * alternatives (hubble refuses it): null. */
export function whitelistOf(f: FilterFlags): Message[] | null {
  const base = {
    verdict: [...parseVerdicts(f.verdict ?? [])].map((name) => enumDesc('flow.Verdict')!.values.find((v) => v.name === name)!.number),
    eventType: (f.type ?? []).map(parseEventType).map((t) => ({ type: t.type, matchSubType: t.subType !== undefined, subType: t.subType ?? 0 })),
    httpStatusCode: f.httpStatus ?? [], httpMethod: f.httpMethod ?? [], httpPath: f.httpPath ?? [],
    sourcePod: f.fromPod ?? [], destinationPod: f.toPod ?? [],
  };
  const filter = (init: typeof base) => create(FlowFilterSchema, init);
  if (f.pod?.length) {
    if (base.sourcePod.length || base.destinationPod.length) return null;
    return [filter({ ...base, sourcePod: [...f.pod] }), filter({ ...base, destinationPod: [...f.pod] })];
  }
  return Object.values(base).some((v) => v.length) ? [filter(base)] : [];
}

/** Calls GetFlows and hands each flow's jsonpb line to `onLine` until the stream ends or
 * `signal` aborts (then it resolves). Errors are ConnectErrors (code and message). */
export async function streamFlowLines(server: ServerAddress, req: Message, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  const client = createClient(ObserverService, transportOf(server)) as unknown as { getFlows(r: Message, o: { signal: AbortSignal }): AsyncIterable<Message> };
  try {
    for await (const resp of client.getFlows(req, { signal })) {
      const line = responseLine(resp as unknown as FlowsResponse);
      if (line !== null) onLine(line);
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

interface FlowsResponse {
  readonly responseTypes: { readonly case?: string; readonly value?: Record<string, unknown> };
  readonly nodeName: string;
}

/** The line observe prints from the history for this flow: flowJsonLine's construction (the
 * response's time is its flow's, as Hubble sets it). Other responses (node status, lost events) print nothing. */
export function responseLine(resp: FlowsResponse): string | null {
  if (resp.responseTypes.case !== 'flow' || !resp.responseTypes.value) return null;
  const flow = messageJson(FlowSchema, resp.responseTypes.value);
  return JSON.stringify({ flow, node_name: resp.nodeName, time: flow['time'] });
}

function transportOf(server: ServerAddress) {
  if (server.kind === 'tcp') return createGrpcTransport({ baseUrl: `http://${formatServerAddress(server)}` });
  return createGrpcTransport({ baseUrl: 'http://localhost', nodeOptions: { createConnection: () => netConnect(server.path) } });
}
