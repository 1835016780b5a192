import { ConflictError, InvalidArgumentError } from '../../types/errors';

/** Why a tar entry was refused; stable so callers and tests can match on it. */
export type UnsafeReason =
  | 'absolute-path'
  | 'dot-dot'
  | 'symlink-escape'
  | 'hardlink-escape'
  | 'through-symlink'
  | 'device-node'
  | 'entry-too-large'
  | 'total-too-large'
  | 'too-many-entries'
  | 'name-too-long'
  | 'unsupported-type'
  | 'malformed';

/** A tar entry that extraction refuses: the message names the entry and what is wrong with it. */
export class UnsafeEntryError extends InvalidArgumentError {
  readonly entry: string;
  readonly reason: UnsafeReason;

  constructor(entry: string, reason: UnsafeReason, detail: string) {
    super(`tar entry ${JSON.stringify(entry)} refused (${reason}): ${detail}`, {
      hint: 'the archive is malformed or hostile; nothing from it was kept',
    });
    this.entry = entry;
    this.reason = reason;
  }
}

/** Content whose sha256 is not the one it was announced with (blob, layer diff id, manifest). */
export class DigestMismatchError extends InvalidArgumentError {
  readonly expected: string;
  readonly actual: string;

  constructor(what: string, expected: string, actual: string) {
    super(`${what}: digest mismatch, expected ${expected} but the content hashes to ${actual}`, {
      hint: 'the image is corrupt or was tampered with; nothing from it was kept',
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** An image that a container still uses cannot be removed. */
export class ImageInUseError extends ConflictError {
  constructor(ref: string, id: string) {
    super(`image ${ref} (${id}) is in use by a container`, { hint: 'remove the containers that use it first' });
  }
}
