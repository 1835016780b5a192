/** Stable error codes; mapped once to gRPC status and to HTTP status at the edges (DESIGN.md §9). */
export type ErrorCode =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'FailedPrecondition'
  | 'PermissionDenied'
  | 'Unauthenticated'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Internal';

/** The base of every error shoal raises on purpose. `hint` says what to do about it, if anything. */
export class ShoalError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options?.hint;
    this.name = `ShoalError[${code}]`;
  }

  /** True for any ShoalError, even one from another copy of this module. */
  static is(err: unknown, code?: ErrorCode): err is ShoalError {
    if (typeof err !== 'object' || err === null) return false;
    const c = (err as { code?: unknown }).code;
    const isShoal = err instanceof ShoalError || (typeof (err as { name?: unknown }).name === 'string' && (err as { name: string }).name.startsWith('ShoalError['));
    return isShoal && (code === undefined || c === code);
  }
}

/** Bad input from a user or a peer; the message names the field and the value. */
export class InvalidArgumentError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('InvalidArgument', message, options);
  }
}

/** The object asked for does not exist. */
export class NotFoundError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('NotFound', message, options);
  }
}

/** A write raced another (stale version) or contradicts the current state. */
export class ConflictError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('Conflict', message, options);
  }
}

/** The caller may not do this (role, cluster or membership). */
export class PermissionDeniedError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('PermissionDenied', message, options);
  }
}

/** The caller could not be identified (bad token, no certificate). */
export class UnauthenticatedError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('Unauthenticated', message, options);
  }
}

/** The service cannot answer now (no leader, no quorum, peer gone); retrying may work. */
export class UnavailableError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('Unavailable', message, options);
  }
}

/** The state does not allow this operation now. */
export class FailedPreconditionError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('FailedPrecondition', message, options);
  }
}
