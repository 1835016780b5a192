import type { ServiceError } from '@grpc/grpc-js';
import {
  ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError,
  ShoalError, UnauthenticatedError, UnavailableError,
} from '../types/errors';
import { shoalErrorOf } from '../types/grpc-status';

type Ctor = new (message: string, options?: { cause?: unknown; hint?: string }) => ShoalError;

const subclassOf: Partial<Record<ShoalError['code'], Ctor>> = {
  InvalidArgument: InvalidArgumentError,
  NotFound: NotFoundError,
  Conflict: ConflictError,
  FailedPrecondition: FailedPreconditionError,
  PermissionDenied: PermissionDeniedError,
  Unauthenticated: UnauthenticatedError,
  Unavailable: UnavailableError,
};

/**
 * The ShoalError subclass a failed gRPC call stands for, carrying the server's message as is
 * (the server already names the bad field or object), so `instanceof NotFoundError` works
 * after a call as it does in process.
 */
export function typedErrorOf(err: unknown, what: string): ShoalError {
  if (ShoalError.is(err)) return retype(err);
  const e = err instanceof Error ? shoalErrorOf(err, what) : new ShoalError('Internal', `${what}: ${String(err)}`);
  const details = (err as Partial<ServiceError>).details;
  const message = typeof details === 'string' && details !== '' && e.code !== 'Unavailable' ? details : e.message;
  return retype(new ShoalError(e.code, message, { cause: err, hint: e.hint }));
}

/** The same error as an instance of its code's subclass. */
export function retype(e: ShoalError): ShoalError {
  const C = subclassOf[e.code];
  if (C === undefined || Object.getPrototypeOf(e) === C.prototype) return e;
  return new C(e.message, { cause: e.cause, hint: e.hint });
}

/** A ShoalError as its subclass, a gRPC failure as the ShoalError it stands for, anything else as it is. */
export function typedOrAsIs(err: unknown, what: string): unknown {
  if (ShoalError.is(err)) return retype(err);
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'number') return typedErrorOf(err, what);
  return err;
}
