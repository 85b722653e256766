// Hubble's Observer gRPC service (GetFlows, ServerStatus, GetNodes, GetNamespaces) and its Peer
// service (Notify), served by the agent over HTTP/2 cleartext on a unix socket and a TCP port,
// as cilium-agent serves them on /var/run/cilium/hubble.sock and :4244, so `hubble observe
// --server ...` and Hubble Relay can read l7bpf nodes. connect-node speaks the gRPC protocol
// over node:http2; the flows come from a FlowHub (hub.ts): the history's jsonpb lines, decoded
// and sent as binary; the peers from a PeerSource (peers.ts).
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { create, fromJson, type JsonValue, type Message } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { InvalidFilterError } from './filters.ts';
import { planOf, selectFlows, type FlowsPlan } from './getflows.ts';
import type { FlowHub } from './hub.ts';
import { DEFAULT_HUBBLE_PORT, defaultHubbleSocket, parseHostPort, socketAnswers } from './address.ts';
import { notifications, orSelf, selfPeer, type PeerSource } from './peers.ts';
import {
  ChangeNotificationSchema, GetFlowsResponseSchema, GetNamespacesResponseSchema, GetNodesResponseSchema, hubbleRegistry, NODE_STATE, ObserverService,
  PEER_CHANGE, PeerService, ServerStatusResponseSchema, type GetFlowsRequest,
} from './proto.ts';


/** GetFlowsRequest fields a newer Hubble may send that only trim what is sent (field_mask 10,
 * experimental.field_mask 999): l7bpf sends whole flows. Any other unknown field is refused. */
const IGNORED_REQUEST_FIELDS = new Set([10, 999]);
const CLOSE_GRACE_MS = 200;

export interface HubbleServerOptions {
  readonly hub: FlowHub;
  /** this node's name (GetNodes); the flows carry the node_name they were rendered with */
  readonly nodeName: string;
  /** l7bpf's version (ServerStatus, GetNodes) */
  readonly version: string;
  /** unix socket path (default address.ts defaultHubbleSocket()); false: none */
  readonly socketPath?: string | false;
  /** TCP `host:port`, `:port` (every address) or `host` (port 4244); default ":4244"; port 0:
   * an ephemeral one (see `address.tcp`); false: none */
  readonly listen?: string | false;
  /** the nodes Hubble Relay should read (peer.Peer/Notify); default, and while it lists none:
   * this node alone, at its TCP address (else its socket) */
  readonly peers?: PeerSource;
}

export interface HubbleServer {
  readonly address: { readonly socket?: string; readonly tcp?: { readonly host: string; readonly port: number } };
  /** Stops listening, ends the open streams and removes the socket. */
  close(): Promise<void>;
}

/** Serves Observer and Peer on the socket and the TCP address; resolves once both listen. */
export async function startHubbleServer(o: HubbleServerOptions): Promise<HubbleServer> {
  const startedNs = process.hrtime.bigint();
  const address: { socket?: string; tcp?: { host: string; port: number } } = {};
  // this node's address is known once the listeners are up, before any call is served
  const peers = orSelf(o.peers, () => selfPeer(o.nodeName, address.tcp, address.socket));
  const handler = connectNodeAdapter({ routes: routes(o, peers, startedNs), grpc: true, grpcWeb: false, connect: false });
  const servers: Http2Server[] = [];
  const close = () => Promise.all(servers.map(stop)).then(() => (address.socket ? removeSocket(address.socket) : undefined));
  try {
    const socket = o.socketPath === undefined ? defaultHubbleSocket() : o.socketPath;
    if (socket !== false) address.socket = await listenUnix(servers, handler, socket);
    if (o.listen !== false) address.tcp = await listenTcp(servers, handler, o.listen ?? `:${DEFAULT_HUBBLE_PORT}`);
  } catch (e) {
    await close();
    throw e;
  }
  return { address, close };
}

type Handler = Parameters<typeof createServer>[1];

/** Observer and Peer; the methods not listed (GetAgentEvents, GetDebugEvents) are UNIMPLEMENTED. */
function routes(o: HubbleServerOptions, peers: PeerSource, startedNs: bigint) {
  const uptimeNs = () => process.hrtime.bigint() - startedNs;
  const counts = () => {
    const s = o.hub.stats();
    return { numFlows: BigInt(s.ringEntries), maxFlows: BigInt(s.ringCapacity), seenFlows: BigInt(s.seenFlows), flowsRate: s.lastMinuteFlows / 60 };
  };
  return (router: ConnectRouter) =>
    router.service(PeerService, {
      notify: (_req: Message, ctx: HandlerContext) => notify(peers, ctx.signal),
    } as never).service(ObserverService, {
      getFlows: (req: Message, ctx: HandlerContext) => getFlows(o.hub, req as unknown as GetFlowsRequest, ctx.signal),
      serverStatus: () => {
        const { flowsRate, ...c } = counts();
        return create(ServerStatusResponseSchema, { ...c, flowsRate, uptimeNs: uptimeNs(), version: o.version, numConnectedNodes: 1, numUnavailableNodes: 0 });
      },
      getNodes: () => {
        const { flowsRate: _, ...c } = counts();
        const node = { name: o.nodeName, version: o.version, state: NODE_STATE.connected, tls: { enabled: false }, uptimeNs: uptimeNs(), ...c };
        return create(GetNodesResponseSchema, { nodes: [node] });
      },
      getNamespaces: () => create(GetNamespacesResponseSchema, { namespaces: o.hub.namespaces.list() }),
    } as never);
}

/** peer.Peer/Notify: every peer as PEER_ADDED, then the changes, until the client cancels. */
async function* notify(peers: PeerSource, signal: AbortSignal): AsyncGenerator<Message> {
  for await (const c of notifications(peers, signal)) {
    yield create(ChangeNotificationSchema, { name: c.name, address: c.address, type: PEER_CHANGE[c.type] });
  }
}

/** The selected flows as GetFlowsResponse messages; a bad request is InvalidArgument. */
async function* getFlows(hub: FlowHub, req: GetFlowsRequest, signal: AbortSignal): AsyncGenerator<Message> {
  const unknown = (req.$unknown ?? []).map((u) => u.no).filter((n) => !IGNORED_REQUEST_FIELDS.has(n));
  if (unknown.length) throw new ConnectError(`GetFlowsRequest field number ${unknown.join(', ')} is not supported by l7bpf`, Code.InvalidArgument);
  for await (const s of selectFlows(hub, validPlan(req), signal)) {
    const msg = decodeLine(s.line);
    if (msg) yield msg;
  }
}

function validPlan(req: GetFlowsRequest): FlowsPlan {
  try {
    return planOf(req);
  } catch (e) {
    if (e instanceof InvalidFilterError) throw new ConnectError(e.message, Code.InvalidArgument);
    throw e;
  }
}

/** A history line (GetFlowsResponse in protojson); a line that does not decode is skipped, as
 * Hubble skips an event its parser cannot read. */
function decodeLine(line: string): Message | null {
  try {
    return fromJson(GetFlowsResponseSchema, JSON.parse(line) as JsonValue, { registry: hubbleRegistry });
  } catch {
    return null;
  }
}

async function listenUnix(servers: Http2Server[], handler: Handler, path: string): Promise<string> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  await removeStaleSocket(path);
  const server = serve(servers, handler);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  // owner and group (cilium's hubble.sock is 0660 root:root too)
  chmodSync(path, 0o660);
  return path;
}

async function listenTcp(servers: Http2Server[], handler: Handler, listen: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseListen(listen);
  const server = serve(servers, handler);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}

const sessions = new WeakMap<Http2Server, Set<ServerHttp2Session>>();

function serve(servers: Http2Server[], handler: Handler): Http2Server {
  const server = createServer(handler);
  const open = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  sessions.set(server, open);
  servers.push(server);
  return server;
}

function parseListen(listen: string): { host: string | undefined; port: number } {
  const hp = parseHostPort(listen);
  if (!hp) throw new Error(`hubble listen address ${JSON.stringify(listen)}: expected host:port, :port or host`);
  return hp;
}

/** A socket left by a process that died is removed; one that answers belongs to a live server. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // none
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket: not removing it`);
  if (await socketAnswers(path)) throw new Error(`${path}: another server listens there (another agent?)`);
  unlinkSync(path);
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Stops accepting and ends the open sessions: calls in flight get a moment to finish, a
 * follower's stream (which never does) is then cut, which aborts its handler. */
function stop(server: Http2Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    for (const s of sessions.get(server) ?? []) {
      s.close();
      setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
    }
  });
}
