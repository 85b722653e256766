// The one limit lowering itself needs: DFA construction stops at a state cap. The datapath's
// count limits (selectors, rules, port entries...) are checked by codegen/emit/limits.ts,
// where they meet the C side.
export interface IrLimits {
  /** states of each field DFA */
  readonly dfaStates: number;
}

export const DEFAULT_IR_LIMITS: IrLimits = { dfaStates: 4096 };

export class LowerError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message} (hint: ${hint})` : message);
    this.name = 'LowerError';
  }
}
