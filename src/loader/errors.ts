// Typed loader errors: what failed, where, the verifier's last meaningful lines, a hint.

export class VerifierError extends Error {
  readonly program: string;
  readonly object: string;
  readonly errno: number;
  readonly logTail: readonly string[];
  constructor(object: string, program: string, errno: number, logTail: readonly string[]) {
    super(
      `${object}: verifier rejected program ${program} (errno ${-errno})\n` +
        logTail.map((l) => `  | ${l}`).join('\n') +
        `\n(hint: the last lines name the instruction and register the verifier could not prove safe; ` +
        `rerun with L7BPF_LIBBPF_DEBUG=1 for libbpf's own messages)`,
    );
    this.name = 'VerifierError';
    this.program = program;
    this.object = object;
    this.errno = errno;
    this.logTail = logTail;
  }
}

export class LoadError extends Error {
  constructor(object: string, errno: number, messages: readonly string[]) {
    super(`${object}: load failed (errno ${-errno}): ${messages.slice(-6).join(' | ')} (hint: run as root; the datapath needs Linux 5.17 or later)`);
    this.name = 'LoadError';
  }
}

/** The kernel lacks helpers or map types the datapath uses: no verifier log would say it plainly. */
export class KernelFeatureError extends Error {
  readonly missing: readonly { readonly name: string; readonly since: string }[];
  constructor(object: string, kernel: string, missing: readonly { readonly name: string; readonly since: string }[], minKernel: string) {
    super(
      `${object}: this kernel (${kernel}) lacks what the datapath needs: ` +
        missing.map((f) => `${f.name} (Linux ${f.since})`).join(', ') +
        ` (hint: the datapath needs Linux ${minKernel} or later; tested kernels: docs/datapath.md, kernels)`,
    );
    this.name = 'KernelFeatureError';
    this.missing = missing;
  }
}

/** Last lines of a verifier log that say something (drops blank lines and the stats footer). */
export function verifierTail(log: string, max = 12): string[] {
  const lines = log.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
  const cut = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  const body = cut >= 0 ? lines.slice(0, cut) : lines;
  return body.slice(-max);
}

/** "processed N insns" from a verifier log, or null. */
export function processedInsns(log: string): number | null {
  const m = /processed (\d+) insns/.exec(log);
  return m ? Number(m[1]) : null;
}
