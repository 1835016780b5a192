import type { BlobStore } from './blob-store';
import type { Digest } from './digest';
import type { LayerCache } from './layer-cache';
import type { ImageConfig, Manifest } from './oci-types';
import type { StoreState } from './store-state';

/**
 * Mark and sweep: every blob and unpacked layer reachable from a recorded image is kept,
 * everything else removed. Callers hold the store's lock, so no ingest is half-recorded.
 */
export async function collectGarbage(
  state: StoreState,
  blobs: BlobStore,
  layers: LayerCache,
  readImage: (manifest: Digest) => Promise<{ manifest: Manifest; config: ImageConfig }>,
): Promise<{ blobsRemoved: number; layersRemoved: number }> {
  const keepBlobs = new Set<string>();
  const keepLayers = new Set<string>();
  for (const manifest of Object.keys(state.images)) {
    const d = manifest as Digest;
    const { manifest: m, config } = await readImage(d);
    keepBlobs.add(d);
    keepBlobs.add(m.config.digest);
    for (const l of m.layers) keepBlobs.add(l.digest);
    for (const id of config.rootfs.diff_ids) keepLayers.add(id);
  }
  let blobsRemoved = 0;
  let layersRemoved = 0;
  for (const b of await blobs.list()) {
    if (keepBlobs.has(b)) continue;
    await blobs.remove(b);
    blobsRemoved += 1;
  }
  for (const l of await layers.list()) {
    if (keepLayers.has(l)) continue;
    await layers.remove(l);
    layersRemoved += 1;
  }
  return { blobsRemoved, layersRemoved };
}
