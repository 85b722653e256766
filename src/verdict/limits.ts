// Limits shared by the oracle, the simulator and the kernel datapath (codegen emits them).
export const DEFAULT_LIMITS = {
  /** request line + header block, CRLFCRLF included; longer heads are denied (head-too-long) */
  headBytes: 8192,
} as const;
