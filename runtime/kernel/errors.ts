/**
 * Typed errors. Every operating error the library reports is a `FedError` with a stable `code`
 * (never parse `message`), an optional `details` object and the usual `cause`.
 *
 * Programmer errors (a broken invariant) are `AssertionError`s from `assert.ts` and are not
 * meant to be caught.
 */

/** Stable error codes. Add new ones here, with a line saying when they happen. */
export const ERROR_CODES = {
  timeout: 'an operation did not finish within its deadline',
  noproc: 'the target process does not exist (or is dead)',
  nodedown: 'the target node is not connected or was declared down',
  noconnection: 'a link or monitor lost its connection to the remote node',
  exited: 'the target process exited before it answered; details.reason says why',
  badarg: 'an argument was invalid',
  not_leader: 'this member is not the Raft leader; details.leaderHint names the leader if known',
  name_taken: 'the name is held by another process; details.holder names it',
  not_owner: 'the caller does not hold the name',
  not_found: 'no such name, member or group',
  overloaded: 'the target refuses work for now; details.retryAfterMs hints when to retry',
  moved: 'the slot of this name is owned by another group; details.group names it',
  unavailable: 'no quorum or no route to the home group',
  closed: 'the object was closed',
  frame_too_large: 'a frame exceeded the maximum frame size',
  bad_frame: 'a frame could not be decoded or had an unknown type',
  auth_failed: 'the peer failed the cookie challenge or the cluster id did not match',
  handshake_timeout: 'the handshake did not finish in time',
  version_mismatch: 'the peer speaks no protocol version we support',
  name_clash: 'a node with this name is already connected',
  buffer_full: 'the outbound buffer to a peer is full',
  mailbox_full: 'the target mailbox is full',
  corrupt_data: 'the data directory is corrupt or of an unknown format',
  wrong_data_dir: 'the data directory belongs to another node or group, or to a newer format',
  config: 'the configuration is invalid',
  shutdown: 'the node or component is shutting down',
  compacted: 'a watch asked to resume from revisions no longer kept; details.oldestRevision is the oldest one it may resume after',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FedError extends Error {
  override readonly name = 'FedError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

export function fedError(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): FedError {
  return new FedError(code, message, { details, cause });
}

export function isFedError(value: unknown, code?: ErrorCode): value is FedError {
  return value instanceof FedError && (code === undefined || value.code === code);
}
