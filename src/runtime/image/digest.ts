import { createHash, type Hash } from 'node:crypto';
import { InvalidArgumentError } from '../../types/errors';

/** A content digest, `sha256:<64 lowercase hex>` (the only algorithm we accept). */
export type Digest = `sha256:${string}`;

const digestRe = /^sha256:[0-9a-f]{64}$/;

/** True if s is a sha256 digest in canonical form. */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && digestRe.test(s);
}

/** Checks a digest from outside (manifests, indexes, refs) before it names a file. */
export function parseDigest(s: unknown, what: string): Digest {
  if (!isDigest(s)) {
    throw new InvalidArgumentError(`${what}: ${JSON.stringify(s)} is not a sha256 digest (sha256:<64 hex digits>)`);
  }
  return s;
}

/** The hex part of a digest, used as a file name. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** The digest of a buffer. */
export function sha256Of(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An incremental sha256 that also counts bytes. */
export class Hasher {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
