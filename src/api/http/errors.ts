import { ShoalError, type ErrorCode } from '../../types/errors';

// The one mapping between shoal's typed errors and the local API's HTTP status (STYLE.md §4),
// following Docker's errdefs: invalid 400, not found 404, conflict 409, unavailable 503.
const toHttp: Record<ErrorCode, number> = {
  InvalidArgument: 400,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  FailedPrecondition: 400,
  PermissionDenied: 403,
  Unauthenticated: 401,
  Unavailable: 503,
  DeadlineExceeded: 504,
  Internal: 500,
};

/** Docker's words for a node outside a swarm (its clients and users know them). */
export const NOT_IN_SWARM = 'This node is not part of a swarm';
/** Docker's words for a node that is in a swarm but not a manager. */
export const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** Docker's words for an init or join on a node already in a swarm. */
export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

/** An error as the local API sends it: the status and Docker's `{"message": ...}` body. */
export interface HttpError { readonly status: number; readonly message: string }

/** The status and message for err; Docker answers 503 for a node that is not (a manager) in a swarm. */
export function httpErrorOf(err: unknown): HttpError {
  if (!ShoalError.is(err)) return { status: 500, message: err instanceof Error ? err.message : String(err) };
  const msg = err.hint === undefined ? err.message : `${err.message} (${err.hint})`;
  if (err.code === 'FailedPrecondition' || err.code === 'Unavailable') {
    if (/not a swarm manager/i.test(err.message)) return { status: 503, message: NOT_A_MANAGER };
    if (/not (part of|in) a swarm/i.test(err.message)) return { status: 503, message: NOT_IN_SWARM };
    if (/already (part of|in) a swarm/i.test(err.message)) return { status: 503, message: ALREADY_IN_SWARM };
  }
  return { status: toHttp[err.code] ?? 500, message: msg };
}
