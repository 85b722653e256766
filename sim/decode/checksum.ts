// The Internet checksum (RFC 1071): shared by the frame builder, the replay's frame splitter
// and the decoder's header checks.

/** One's-complement sum of 16-bit big-endian words, not yet folded. */
export function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) acc += b[end - 1]! << 8;
  return acc;
}

/** The checksum field value for a sum: folded to 16 bits and inverted. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}
