// The request model the oracle judges, and its field accessors.
export type HttpVersion = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

export interface HttpRequest {
  readonly method: string;
  /** request-target as sent (HTTP/2: :path), query included */
  readonly target: string;
  readonly version: HttpVersion;
  /** header fields in order, names as sent, values with surrounding whitespace trimmed; HTTP/2 keeps :authority */
  readonly headers: readonly (readonly [string, string])[];
}

export function headerValues(req: HttpRequest, name: string): string[] {
  const lower = name.toLowerCase();
  return req.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** Host as Cilium matches it: the Host header verbatim (HTTP/2: :authority, or Host without
 * one), port included. */
export function hostOf(req: HttpRequest): string | null {
  const h = req.version === 'HTTP/2' ? [...headerValues(req, ':authority'), ...headerValues(req, 'host')] : headerValues(req, 'host');
  return h[0] ?? null;
}

/** llhttp's request methods (HTTP family, without PRI which only starts the HTTP/2 preface). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(
  ('DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH ' +
    'UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY SUBSCRIBE ' +
    'UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE QUERY').split(' '),
);
