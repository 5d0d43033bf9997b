/**
 * Exit codes a script can test. Listed in `fedctl --help`.
 */
import { isFedError, type ErrorCode } from '../runtime/index.js';

/**
 * An error of the CLI itself, with its own stable code (printed as the FedError codes are) and
 * exit code: `usage` (commander's parse errors), `compacted` (a watch resumed from a revision
 * the node no longer keeps).
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const EXIT = {
  ok: 0,
  /** Anything not covered below (a bug, an I/O error). */
  error: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** The name, member or group does not exist (or a watch's revision was compacted). */
  notFound: 3,
  /** Refused or conflicting: name taken, not the owner, overloaded, not the leader. */
  refused: 4,
  /** The node could not be reached, or the cookie was wrong, or there is no quorum. */
  unreachable: 5,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  error (unexpected)
  2  usage: bad flags or arguments
  3  not found: no such name, member or group; a watch's revision was compacted
  4  refused: name taken, not the owner, overloaded, conflict
  5  unreachable: node down, wrong cookie, timeout, no quorum`;

const CODE_TO_EXIT: Partial<Record<ErrorCode, number>> = {
  badarg: EXIT.usage,
  config: EXIT.usage,
  not_found: EXIT.notFound,
  compacted: EXIT.notFound,
  noproc: EXIT.notFound,
  name_taken: EXIT.refused,
  not_owner: EXIT.refused,
  overloaded: EXIT.refused,
  not_leader: EXIT.refused,
  moved: EXIT.refused,
  nodedown: EXIT.unreachable,
  noconnection: EXIT.unreachable,
  timeout: EXIT.unreachable,
  unavailable: EXIT.unreachable,
  auth_failed: EXIT.unreachable,
  handshake_timeout: EXIT.unreachable,
  version_mismatch: EXIT.unreachable,
  corrupt_data: EXIT.error,
  wrong_data_dir: EXIT.error,
};

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (isFedError(error)) return CODE_TO_EXIT[error.code] ?? EXIT.error;
  return EXIT.error;
}
