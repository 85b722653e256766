// Random HTTP/2 client connections for the kernel == simulator == oracle test: requests from
// a small universe (mostly valid, some breaking one RFC 9113 rule), every HPACK
// representation (indexed static and dynamic, literal with, without and never indexing,
// names by index or literal, Huffman or raw), table size updates (evictions under small
// tables, one above the mirrored 4096), CONTINUATION cuts, padding, priority, DATA and
// other frames between blocks. The generator keeps the field lists it encoded, so the oracle
// judges them without any decoder.
import fc from 'fast-check';
import { HpackEncoder, type Field, type Representation } from './hpack-encode.ts';
import { frame, FRAME, headers, PREFACE, settings, type BlockFraming } from './h2-wire.ts';

export const H2_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend-h2, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: a}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: /users}
              - {method: GET, path: "/users/[0-9]+", headers: ["X-Token: s3cret"]}
              - {method: POST, path: "/api/.*", host: "api\\\\.example(:8080)?"}
              - {method: "GET|HEAD", path: /public/.*, headers: [X-Mode]}
            grpc:
              - {service: pkg.Svc, method: Get}
`;

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'BREW', 'get', 'CONNECT', 'OPTIONS'];
const PATHS = ['/users', '/users', '/users/42', '/users/4x', '/api/v1', '/api/v1/items?id=7', '/pkg.Svc/Get', '/pkg.Svc/Put', '/public/a.css',
  '/a/../users', '/users/%2e', '', '*', '/', 'http://x/users', '/index.html'];
const AUTHORITIES = ['api.example', 'api.example:8080', 'b-1:8080', 'other.example', ''];
const EXTRA: readonly Field[] = [
  ['x-token', 's3cret'], ['x-token', 'wrong'], ['x-mode', 'fast'], ['content-type', 'application/grpc'], ['te', 'trailers'],
  ['accept', '*/*'], ['accept-encoding', 'gzip, deflate'], ['user-agent', 'grpc-node-js/1.14.7'], ['grpc-timeout', '5S'],
  ['cookie', 'a=1'], ['x-long', 'v'.repeat(200)],
];
/** Fields that break a rule (rarely drawn). */
const BAD: readonly Field[] = [
  ['te', 'gzip'], ['connection', 'close'], ['X-Upper', '1'], ['host', 'api.example'], ['x-bad', ' lead'], ['x-bad', 'a\r\nb'], [':status', '200'],
];

export interface GenStream {
  readonly fields: readonly Field[];
  readonly reps: readonly Representation[];
  readonly framing: BlockFraming;
  /** a dynamic table size update first in the block */
  readonly sizeUpdate: number | null;
  /** frames after the block: DATA (on this stream, or `back` streams before it: streams
   * interleave), a PING, a WINDOW_UPDATE, an unknown type */
  readonly after: readonly { readonly kind: 'data' | 'ping' | 'window' | 'unknown'; readonly back: number }[];
}

export interface GenConn {
  readonly streams: readonly GenStream[];
  /** where the byte stream is cut into segments, as fractions */
  readonly cuts: readonly number[];
}

/** a value of `arb` once in `n` draws, else null */
function rarely<T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: arb, weight: 1 }, { arbitrary: fc.constant(null), weight: n - 1 });
}

const rep: fc.Arbitrary<Representation> = fc.record({
  indexed: fc.boolean(),
  indexing: fc.constantFrom('incremental', 'incremental', 'without', 'never'),
  nameIndexed: fc.boolean(),
  huffmanName: fc.boolean(),
  huffmanValue: fc.boolean(),
}, { requiredKeys: [] });

/** Requests some rule allows (when nothing is added to them). */
/** Allowed calls' field lists (the stage-3 property of test/kernel/h2-differential.test.ts). */
export const GOOD_CALLS: readonly (readonly Field[])[] = [
  [[':method', 'GET'], [':scheme', 'http'], [':authority', 'b-1:8080'], [':path', '/users']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/users/42'], ['x-token', 's3cret']],
  [[':method', 'POST'], [':scheme', 'http'], [':authority', 'api.example'], [':path', '/api/v1/items?id=7'], ['content-type', 'application/json']],
  [[':method', 'POST'], [':scheme', 'http'], [':path', '/pkg.Svc/Get'], [':authority', 'b-1:8080'], ['content-type', 'application/grpc'], ['te', 'trailers'], ['user-agent', 'grpc-node-js/1.14.7']],
  [[':method', 'HEAD'], [':scheme', 'https'], [':authority', 'b-1'], [':path', '/public/a.css'], ['x-mode', 'fast'], ['x-long', 'v'.repeat(200)]],
];

const goodFields: fc.Arbitrary<Field[]> = fc.record({
  base: fc.constantFrom(...GOOD_CALLS),
  extra: fc.uniqueArray(fc.constantFrom(...EXTRA.filter(([n]) => n !== 'x-token' && n !== 'te')), { maxLength: 2 }),
}).map((r) => [...r.base, ...r.extra]);

const anyFields: fc.Arbitrary<Field[]> = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...PATHS),
  authority: fc.constantFrom(...AUTHORITIES),
  scheme: fc.constantFrom('http', 'http', 'http', 'https', null),
  extra: fc.uniqueArray(fc.constantFrom(...EXTRA), { maxLength: 4 }),
  bad: rarely(fc.constantFrom(...BAD), 8),
  shuffle: rarely(fc.nat(), 12),
}).map((r) => {
  const pseudo: Field[] = [[':method', r.method], ...(r.scheme ? [[':scheme', r.scheme] as Field] : []), ...(r.authority ? [[':authority', r.authority] as Field] : []), [':path', r.path]];
  const fields = [...pseudo, ...r.extra];
  if (r.bad) fields.splice(r.bad[0].startsWith(':') ? pseudo.length : fields.length, 0, r.bad);
  // a pseudo-header moved after the regular fields, or repeated
  if (r.shuffle !== null) {
    const k = r.shuffle % pseudo.length;
    if (r.shuffle % 2 === 0 && r.extra.length > 0) fields.push(fields.splice(k, 1)[0]!);
    else fields.splice(0, 0, pseudo[k]!);
  }
  return fields;
});

const requestFields: fc.Arbitrary<Field[]> = fc.oneof({ arbitrary: goodFields, weight: 4 }, { arbitrary: anyFields, weight: 1 });

const stream: fc.Arbitrary<GenStream> = requestFields.chain((fields) => fc.record({
  fields: fc.constant(fields),
  reps: fc.array(rep, { minLength: fields.length, maxLength: fields.length }),
  framing: fc.record({
    cuts: fc.uniqueArray(fc.nat({ max: 60 }), { maxLength: 3 }),
    padding: fc.option(fc.nat({ max: 12 }), { freq: 3, nil: undefined }),
    priority: fc.boolean(),
    endStream: fc.boolean(),
  }),
  sizeUpdate: rarely(fc.constantFrom(0, 48, 64, 120, 256, 4096, 4096, 4097), 6),
  after: fc.array(fc.record({ kind: fc.constantFrom('data' as const, 'ping' as const, 'window' as const, 'unknown' as const), back: fc.nat({ max: 3 }) }), { maxLength: 3 }),
}));

export const connArb: fc.Arbitrary<GenConn> = fc.record({
  streams: fc.array(stream, { minLength: 1, maxLength: 4 }),
  cuts: fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
});

export interface Encoded {
  readonly bytes: Uint8Array;
  readonly splitAt: number[];
  /** per stream: its fields, or 'hpack' where the block breaks the decoder's limits */
  readonly judged: readonly (readonly Field[] | 'hpack')[];
}

/** The connection's client bytes (preface, SETTINGS, the streams) and how they are cut. */
export function encodeConn(c: GenConn): Encoded {
  const enc = new HpackEncoder();
  const out: Uint8Array[] = [PREFACE, settings([[4, 65535]])];
  const judged: (readonly Field[] | 'hpack')[] = [];
  c.streams.forEach((s, k) => {
    const id = 1 + 2 * k;
    const update = s.sizeUpdate === null ? [] : enc.sizeUpdate(s.sizeUpdate);
    const block = Uint8Array.from([...update, ...enc.encode(s.fields, (i) => s.reps[i] ?? {})]);
    out.push(headers(id, block, s.framing));
    judged.push(s.sizeUpdate !== null && s.sizeUpdate > 4096 ? 'hpack' : s.fields);
    for (const a of s.after) {
      const on = 1 + 2 * Math.max(0, k - a.back);
      if (a.kind === 'data') out.push(frame(FRAME.DATA, 0, on, new Uint8Array(37).fill(0x61)));
      if (a.kind === 'ping') out.push(frame(FRAME.PING, 0, 0, new Uint8Array(8)));
      if (a.kind === 'window') out.push(frame(FRAME.WINDOW_UPDATE, 0, on, [0, 0, 0x10, 0]));
      if (a.kind === 'unknown') out.push(frame(0x42, 0x5, on, [1, 2, 3]));
    }
  });
  const bytes = Buffer.concat(out);
  const splitAt = [...new Set(c.cuts.map((x) => Math.floor(x * bytes.length)).filter((x) => x > 0 && x < bytes.length))].sort((a, b) => a - b);
  return { bytes, splitAt, judged };
}
