// Compile-time limits of a policy object. Each has a default here, a typed error when a
// policy set exceeds it, and a line in docs/datapath.md.
export interface IrLimits {
  /** selectors (bits per identity in the `selectors` map) */
  readonly selectors: number;
  /** http rules across all L7 sets (bits in the per-request match masks) */
  readonly httpRules: number;
  /** distinct header requirements */
  readonly headerReqs: number;
  /** rows of the port tables, both directions */
  readonly portEntries: number;
  /** states of each field DFA */
  readonly dfaStates: number;
}

export const DEFAULT_IR_LIMITS: IrLimits = {
  selectors: 256,
  httpRules: 256,
  headerReqs: 64,
  portEntries: 1024,
  dfaStates: 4096,
};

export class LowerError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message} (hint: ${hint})` : message);
    this.name = 'LowerError';
  }
}
