import { createReadStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError, ShoalError } from '../../types/errors';
import type { Hasher } from './digest';
import { UnsafeEntryError } from './errors';

/** The compression of an archive, told from its first bytes (media types lie more often). */
export type Compression = 'none' | 'gzip';

/** Sniffs a file's compression; zstd and others are refused by name. */
export async function sniffCompression(file: string, what: string): Promise<Compression> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && head.readUInt32LE(0) === 0xfd2fb528) throw new InvalidArgumentError(`${what} is zstd-compressed, which shoal does not read yet`, { hint: 'use a gzip or uncompressed tar' });
    if (bytesRead >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) throw new InvalidArgumentError(`${what} is bzip2-compressed; use gzip or an uncompressed tar`);
    return 'none';
  } finally {
    await fh.close();
  }
}

/** The uncompressed content of a tar or tar+gzip file, as a stream. */
export async function openArchive(file: string, what: string): Promise<AsyncIterable<Buffer>> {
  const compression = await sniffCompression(file, what);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (compression === 'none') return raw as AsyncIterable<Buffer>;
  const gunzip = pipeline(raw, createGunzip({ chunkSize: 1 << 17 }), () => { /* errors reach the consumer through the gunzip stream */ });
  return gunzipErrors(gunzip as AsyncIterable<Buffer>, what);
}

/** zlib's own errors ("unexpected end of file") do not say which file; these do. */
async function* gunzipErrors(src: AsyncIterable<Buffer>, what: string): AsyncGenerator<Buffer> {
  try {
    yield* src;
  } catch (err) {
    if (ShoalError.is(err)) throw err;
    throw new InvalidArgumentError(`${what} is not a valid gzip stream: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Passes chunks through, hashing them, and refuses a stream longer than bytesMax: a small
 * gzip can expand without bound, so the uncompressed side needs its own limit.
 */
export async function* hashing(src: AsyncIterable<Buffer>, h: Hasher, bytesMax: number, what: string): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    h.update(chunk);
    if (h.bytes > bytesMax) throw new UnsafeEntryError(what, 'total-too-large', `uncompressed archive exceeds ${bytesMax} bytes`);
    yield chunk;
  }
}
