import { status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ShoalError, type ErrorCode } from './errors';

// The one mapping between shoal's typed errors and gRPC status codes (STYLE.md §4).
const toGrpc: Record<ErrorCode, GrpcStatus> = {
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  Conflict: GrpcStatus.ABORTED,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  PermissionDenied: GrpcStatus.PERMISSION_DENIED,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
  Unavailable: GrpcStatus.UNAVAILABLE,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  Internal: GrpcStatus.INTERNAL,
};

const fromGrpc = new Map<GrpcStatus, ErrorCode>([
  [GrpcStatus.INVALID_ARGUMENT, 'InvalidArgument'],
  [GrpcStatus.OUT_OF_RANGE, 'InvalidArgument'],
  [GrpcStatus.NOT_FOUND, 'NotFound'],
  [GrpcStatus.ALREADY_EXISTS, 'AlreadyExists'],
  [GrpcStatus.ABORTED, 'Conflict'],
  [GrpcStatus.FAILED_PRECONDITION, 'FailedPrecondition'],
  [GrpcStatus.PERMISSION_DENIED, 'PermissionDenied'],
  [GrpcStatus.UNAUTHENTICATED, 'Unauthenticated'],
  [GrpcStatus.UNAVAILABLE, 'Unavailable'],
  [GrpcStatus.CANCELLED, 'Unavailable'],
  [GrpcStatus.DEADLINE_EXCEEDED, 'DeadlineExceeded'],
]);

/** The gRPC status a server sends for err; anything not a ShoalError is INTERNAL and its message is not leaked. */
export function grpcStatusOf(err: unknown): Pick<StatusObject, 'code' | 'details'> {
  if (ShoalError.is(err)) return { code: toGrpc[err.code], details: err.message };
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}

/** The ShoalError a client raises for a failed gRPC call; `what` names the call for the message. */
export function shoalErrorOf(err: ServiceError | Error, what: string): ShoalError {
  const code = 'code' in err && typeof err.code === 'number' ? fromGrpc.get(err.code) ?? 'Internal' : 'Unavailable';
  const details = 'details' in err && typeof err.details === 'string' && err.details !== '' ? err.details : err.message;
  return new ShoalError(code, `${what}: ${details}`, { cause: err });
}
