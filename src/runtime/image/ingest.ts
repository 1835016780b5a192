import { createReadStream, promises as fs } from 'node:fs';
import { InvalidArgumentError } from '../../types/errors';
import type { BlobStore, StoredBlob } from './blob-store';
import type { Digest } from './digest';
import { archiveBytesMax, type ExtractLimits } from './extract';
import type { LayerCache } from './layer-cache';
import { parseImageConfig, parseJson, parseManifest, type Descriptor, type ImageConfig, type Manifest } from './oci-types';

/** Largest manifest, index or config we read into memory. */
export const metadataBytesMax = 4 << 20;

/**
 * One import, load or pull in progress. It remembers every blob and layer it added so that
 * a failure anywhere takes all of them away again: nothing half-imported stays behind.
 */
export class Ingest {
  private readonly addedBlobs = new Set<Digest>();
  private readonly addedLayers = new Set<Digest>();

  constructor(readonly blobs: BlobStore, readonly layers: LayerCache, readonly limits: ExtractLimits) {}

  /** Stores a stream, checked against an expected digest and size when given. */
  async put(src: AsyncIterable<Buffer> | Iterable<Buffer>, what: string, expected?: Digest, expectedSize?: number): Promise<StoredBlob> {
    // Blobs are archives (or their metadata): the same bound as their unpacked form.
    const sizeMax = expectedSize ?? archiveBytesMax(this.limits);
    const b = await this.blobs.put(src, what, expected, sizeMax);
    if (b.added) this.addedBlobs.add(b.digest);
    if (expectedSize !== undefined && b.size !== expectedSize) {
      throw new InvalidArgumentError(`${what}: ${b.size} bytes where its descriptor says ${expectedSize}`);
    }
    return b;
  }

  async putFile(file: string, what: string, expected?: Digest, expectedSize?: number): Promise<StoredBlob> {
    return this.put(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>, what, expected, expectedSize);
  }

  async putJson(value: unknown, what: string): Promise<StoredBlob> {
    return this.put([Buffer.from(JSON.stringify(value))], what);
  }

  /** Reads back and checks a stored manifest. */
  async manifest(d: Digest, what: string): Promise<Manifest> {
    return parseManifest(parseJson(await this.blobs.readBuffer(d, metadataBytesMax), what), what);
  }

  /** Reads back and checks a stored image config. */
  async config(d: Digest, what: string): Promise<ImageConfig> {
    return parseImageConfig(parseJson(await this.blobs.readBuffer(d, metadataBytesMax), what), what);
  }

  /** Unpacks every layer of an image, checking each against the diff id its config names. */
  async unpackLayers(layers: readonly Descriptor[], config: ImageConfig, what: string): Promise<void> {
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layers.length) {
      throw new InvalidArgumentError(`${what}: the config lists ${diffIds.length} diff ids for ${layers.length} layers`);
    }
    for (let i = 0; i < layers.length; i++) {
      if (layers[i].mediaType.includes('zstd')) throw new InvalidArgumentError(`${what}: layer ${layers[i].digest} is zstd-compressed, which shoal does not read yet`);
      const r = await this.layers.unpack(this.blobs, layers[i].digest, diffIds[i], this.limits);
      if (r.added) this.addedLayers.add(r.diffId);
    }
  }

  /** Unpacks a layer whose diff id is not known beforehand (an imported root filesystem). */
  async unpackUnknown(blob: Digest): Promise<Digest> {
    const r = await this.layers.unpack(this.blobs, blob, undefined, this.limits);
    if (r.added) this.addedLayers.add(r.diffId);
    return r.diffId;
  }

  /** Removes everything this ingest added. */
  async rollback(): Promise<void> {
    for (const d of this.addedLayers) await this.layers.remove(d);
    for (const d of this.addedBlobs) await this.blobs.remove(d);
  }
}

/** True if a path exists. */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}
