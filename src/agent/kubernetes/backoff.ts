// Reconnect pacing: exponential, capped, jittered, so that a whole DaemonSet losing the API
// server does not come back in lockstep.

export interface BackoffTiming {
  /** first delay, ms */
  readonly initialMs: number;
  /** cap, ms */
  readonly maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly timing: BackoffTiming, private readonly random: () => number = Math.random) {}

  /** The next delay: initialMs * 2^attempt capped at maxMs, drawn from its upper half
   * (never zero, so a broken server is never hammered; at most the cap). */
  next(): number {
    const ceiling = Math.min(this.timing.maxMs, this.timing.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return ceiling / 2 + (this.random() * ceiling) / 2;
  }

  /** After something worked: the next failure starts again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }
}
