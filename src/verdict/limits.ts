// Limits shared by the oracle, the simulator and the kernel datapath (codegen emits them).
export const DEFAULT_LIMITS = {
  /** request line + header block, CRLFCRLF included; longer heads are denied (head-too-long) */
  headBytes: 8192,
  /** HTTP/2: the client's HPACK dynamic table mirrored per connection, in RFC 7541 octets
   * (4096, the protocol's default); a size update above it is denied (h2-hpack) */
  h2TableBytes: 4096,
} as const;
