// Exit codes, the same for every command (README "Exit codes"): 0 ok; 1 the answer is no
// (denied, a failed check, a disagreement) or the operation failed; 2 bad input (the command
// line, input files that cannot be read or are invalid, names that do not exist).
import { CommanderError } from 'commander';
import { PolicyError } from '../source/diagnostics.ts';

export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad input that is not a policy: a flag's value, an endpoint or deployment that does not exist. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
}

/** Missing input files (a capture, an inventory, an object's directory) are bad input too. */
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
  if (e instanceof BadInputError || e instanceof PolicyError) return EXIT_BAD_INPUT;
  if (MISSING.has((e as NodeJS.ErrnoException | undefined)?.code ?? '')) return EXIT_BAD_INPUT;
  return EXIT_NO;
}
