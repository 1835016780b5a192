import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../../types/errors';
import { fsyncDir } from './atomic-file';
import { digestHex, Hasher, isDigest, type Digest } from './digest';
import { DigestMismatchError } from './errors';

/** A blob as stored: its digest and size in bytes. */
export interface StoredBlob {
  digest: Digest;
  size: number;
}

/**
 * Content-addressed blobs in OCI layout (`blobs/sha256/<hex>`). A blob is written to
 * `ingest/`, hashed on the way, synced, checked against the digest it was announced with,
 * and only then renamed into place: a blob file under its digest is always complete and right.
 */
export class BlobStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    await fs.mkdir(this.ingestDir, { recursive: true });
    // Leftovers of an ingest cut short by a crash are never valid blobs.
    for (const name of await fs.readdir(this.ingestDir)) await fs.rm(path.join(this.ingestDir, name), { recursive: true, force: true });
  }

  path(d: Digest): string {
    return path.join(this.blobsDir, digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    try {
      await fs.access(this.path(d));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stores a stream. With `expected`, content that hashes otherwise is refused and dropped;
   * with `sizeMax`, a longer stream is refused as soon as it passes the limit.
   */
  async put(src: AsyncIterable<Buffer> | Iterable<Buffer>, what: string, expected?: Digest, sizeMax = Number.MAX_SAFE_INTEGER): Promise<StoredBlob & { added: boolean }> {
    const tmp = await fs.mkdtemp(path.join(this.ingestDir, 'blob-'));
    const file = path.join(tmp, 'data');
    try {
      const h = new Hasher();
      const fh = await fs.open(file, 'wx', 0o644);
      try {
        for await (const chunk of src) {
          h.update(chunk);
          if (h.bytes > sizeMax) throw new InvalidArgumentError(`${what}: larger than ${sizeMax} bytes`);
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = h.digest();
      if (expected !== undefined && digest !== expected) throw new DigestMismatchError(what, expected, digest);
      if (await this.has(digest)) return { digest, size: h.bytes, added: false };
      await fs.rename(file, this.path(digest));
      await fsyncDir(this.blobsDir);
      return { digest, size: h.bytes, added: true };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** Stores a small in-memory blob. */
  async putBuffer(data: Buffer, what: string, expected?: Digest): Promise<StoredBlob & { added: boolean }> {
    return this.put([data], what, expected);
  }

  /** A stream of a stored blob. */
  open(d: Digest): AsyncIterable<Buffer> {
    return createReadStream(this.path(d)) as AsyncIterable<Buffer>;
  }

  /** Reads a small blob (manifest, config, index), checking it still hashes to its name. */
  async readBuffer(d: Digest, bytesMax: number): Promise<Buffer> {
    let data: Buffer;
    try {
      const st = await fs.stat(this.path(d));
      if (st.size > bytesMax) throw new InvalidArgumentError(`blob ${d} is ${st.size} bytes, more than the ${bytesMax} allowed for metadata`);
      data = await fs.readFile(this.path(d));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${d} is not in the image store`);
      throw err;
    }
    const h = new Hasher();
    h.update(data);
    if (h.digest() !== d) throw new DigestMismatchError(`stored blob ${this.path(d)}`, d, h.digest());
    return data;
  }

  async size(d: Digest): Promise<number> {
    return (await fs.stat(this.path(d))).size;
  }

  /** Every stored digest. */
  async list(): Promise<Digest[]> {
    const names = await fs.readdir(this.blobsDir);
    return names.map((n) => `sha256:${n}`).filter(isDigest);
  }

  async remove(d: Digest): Promise<void> {
    await fs.rm(this.path(d), { force: true });
  }
}
