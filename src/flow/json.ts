// protojson of a message *init* (the plain object `create()` takes), written straight from the
// descriptor: what `toJson(create(schema, init), {useProtoFieldName: true})` prints, for the
// field kinds flow.proto's subset uses, without building the message first. Replay prints a
// line per flow; the reflective path cost about 60% of a jsonpb replay's CPU. A property test
// (test/flow/json.test.ts) holds the two to byte-identical output.
import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';

type Init = Readonly<Record<string, unknown>>;
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface Plan {
  readonly fields: readonly DescField[];
  /** oneof local name -> its member fields by local name */
  readonly oneofs: ReadonlyMap<string, ReadonlyMap<string, DescField>>;
}

const plans = new Map<DescMessage, Plan>();

function planOf(desc: DescMessage): Plan {
  let p = plans.get(desc);
  if (!p) {
    const oneofs = new Map(desc.oneofs.map((o) => [o.localName, new Map(o.fields.map((f) => [f.localName, f]))]));
    // field-number order, as toJson writes them
    p = { fields: [...desc.fields].sort((a, b) => a.number - b.number), oneofs };
    plans.set(desc, p);
  }
  return p;
}

export function messageJson(desc: DescMessage, init: Init): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  const plan = planOf(desc);
  for (const f of plan.fields) {
    if (f.oneof) {
      const chosen = init[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case === f.localName) out[f.name] = fieldJson(f, chosen.value);
      continue;
    }
    const v = init[f.localName];
    if (v === undefined || v === null) continue;
    if (isDefault(f, v)) continue;
    out[f.name] = fieldJson(f, v);
  }
  return out;
}

/** proto3 leaves out a scalar or enum at its zero value and an empty list; a message set is kept */
function isDefault(f: DescField, v: unknown): boolean {
  switch (f.fieldKind) {
    case 'scalar':
      return v === 0 || v === '' || v === false || v === 0n;
    case 'enum':
      return v === 0;
    case 'list':
      return (v as readonly unknown[]).length === 0;
    default:
      return false;
  }
}

function fieldJson(f: DescField, v: unknown): Json {
  switch (f.fieldKind) {
    case 'scalar':
      return scalarJson(f.scalar, v);
    case 'enum':
      return enumJson(f.enum, v as number);
    case 'message':
      return wellKnown(f.message, v) ?? messageJson(f.message, v as Init);
    case 'list':
      return (v as readonly unknown[]).map((x) =>
        f.listKind === 'scalar' ? scalarJson(f.scalar, x) : f.listKind === 'enum' ? enumJson(f.enum, x as number) : messageJson(f.message, x as Init));
    default:
      throw new Error(`flow json: map field ${f.name} is not used by flow.proto's subset`);
  }
}

function scalarJson(t: ScalarType, v: unknown): Json {
  // 64-bit integers are strings in protojson
  if (t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64) return String(v);
  return v as Json;
}

function enumJson(e: DescEnum, n: number): Json {
  return e.values.find((x) => x.number === n)?.name ?? n;
}

/** Timestamp as RFC 3339 (0, 3, 6 or 9 fraction digits, as protojson), BoolValue as its value */
function wellKnown(desc: DescMessage, v: unknown): Json | undefined {
  if (desc.typeName === 'google.protobuf.BoolValue') return typeof v === 'boolean' ? v : Boolean((v as { value?: boolean }).value);
  if (desc.typeName !== 'google.protobuf.Timestamp') return undefined;
  const t = v as { seconds: bigint; nanos: number };
  const iso = new Date(Number(t.seconds) * 1000).toISOString().slice(0, 19);
  const nanos = t.nanos;
  if (nanos === 0) return `${iso}Z`;
  const digits = String(nanos).padStart(9, '0');
  const frac = nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1000 === 0 ? digits.slice(0, 6) : digits;
  return `${iso}.${frac}Z`;
}
