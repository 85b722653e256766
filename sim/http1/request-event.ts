// A complete request head as an event whose string fields (target, headers, framing) are
// decoded from the raw head on first read (head-fields.ts) and then cached. The event owns its head bytes.
import type { BodyFraming, HttpRequest } from './types.ts';
import { decodeHead, framingOf, type HeadFields } from './head-fields.ts';

export class LazyRequest implements HttpRequest {
  readonly kind = 'request' as const;
  private d: HeadFields | undefined;
  private f: BodyFraming | undefined;

  constructor(
    readonly method: string,
    readonly version: string,
    readonly head: Uint8Array,
    readonly headStart: number,
    readonly headEnd: number,
    readonly upgrade: boolean,
    /** The whole head when `head` was cut at the inspection limit (its fields are still reported). */
    private readonly full: Uint8Array | null,
  ) {}

  get target(): string {
    return (this.d ??= decodeHead(this.full ?? this.head)).target;
  }

  get headers(): readonly (readonly [string, string])[] {
    return (this.d ??= decodeHead(this.full ?? this.head)).headers;
  }

  get framing(): BodyFraming {
    return (this.f ??= framingOf(this.headers));
  }

  /** Plain data for JSON.stringify and inspection (getters are not own properties). */
  toJSON(): HttpRequest {
    const { kind, method, target, version, headers, head, headStart, headEnd, framing, upgrade } = this;
    return { kind, method, target, version, headers, head, headStart, headEnd, framing, upgrade };
  }
}

const versions = new Map<number, string>();

/** "1.1" etc. without building a string per request. */
export function versionString(major: number, minor: number): string {
  const k = major * 1000 + minor;
  let v = versions.get(k);
  if (v === undefined) versions.set(k, (v = `${major}.${minor}`));
  return v;
}
