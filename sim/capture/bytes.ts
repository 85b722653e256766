// Small endian-aware integer readers over a byte array (no DataView allocation per record).

export function u16(b: Uint8Array, i: number, le: boolean): number {
  return le ? (b[i]! | (b[i + 1]! << 8)) : ((b[i]! << 8) | b[i + 1]!);
}

export function u32(b: Uint8Array, i: number, le: boolean): number {
  return le
    ? (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 0x1000000
    : b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
}
