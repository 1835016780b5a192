import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../types/errors';
import { sniffCompression } from './archive-stream';
import { digestHex, type Digest } from './digest';
import { entryComponents } from './entry-path';
import { exists, metadataBytesMax, type Ingest } from './ingest';
import { isIndexType, mediaTypes, parseIndex, parseJson, pickPlatform, type Descriptor } from './oci-types';
import { parseReference } from './reference';

/** An image found in an archive and now in the store: manifest digest, id, and its references. */
export interface FoundImage {
  manifest: Digest;
  id: Digest;
  refs: string[];
}

/**
 * Ingests the images of an unpacked archive: the OCI image-layout form (`index.json`, which
 * `docker save` writes since Docker 25, beside a `manifest.json`) or the legacy `docker save`
 * form (`manifest.json` with `<id>/layer.tar` files).
 */
export async function ingestArchiveDir(dir: string, ingest: Ingest, what: string): Promise<FoundImage[]> {
  if (await exists(path.join(dir, 'index.json'))) return ingestOciLayout(dir, ingest, what);
  if (await exists(path.join(dir, 'manifest.json'))) return ingestLegacy(dir, ingest, what);
  throw new InvalidArgumentError(`${what} has neither index.json (OCI layout) nor manifest.json (docker save)`, {
    hint: 'give a tarball made by `docker save`, or an OCI image layout; use import for a root filesystem tarball',
  });
}

/** A regular file inside dir named by the archive's own metadata, which may not point out of it. */
async function fileIn(dir: string, rel: string, what: string): Promise<string> {
  entryComponents(rel, `${what}: ${rel}`);
  const real = await fs.realpath(path.join(dir, rel)).catch(() => {
    throw new InvalidArgumentError(`${what}: ${rel} is named in the archive's metadata but missing`);
  });
  const root = await fs.realpath(dir);
  if (!real.startsWith(`${root}/`)) throw new InvalidArgumentError(`${what}: ${rel} resolves outside the archive`);
  if (!(await fs.stat(real)).isFile()) throw new InvalidArgumentError(`${what}: ${rel} is not a file`);
  return real;
}

async function readSmall(file: string, what: string): Promise<unknown> {
  const st = await fs.stat(file);
  if (st.size > metadataBytesMax) throw new InvalidArgumentError(`${what} is ${st.size} bytes, more than ${metadataBytesMax}`);
  return parseJson(await fs.readFile(file), what);
}

const expectedFromName = (name: string): Digest | undefined => {
  const m = /(?:^|\/)([0-9a-f]{64})(?:\.json)?$/.exec(name);
  return m === null ? undefined : `sha256:${m[1]}`;
};

async function ingestLegacy(dir: string, ingest: Ingest, what: string): Promise<FoundImage[]> {
  const list = await readSmall(path.join(dir, 'manifest.json'), `${what}: manifest.json`);
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`${what}: manifest.json is not a non-empty list`);
  const found: FoundImage[] = [];
  for (const [i, raw] of list.entries()) {
    const item = raw as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    const w = `${what}: manifest.json[${i}]`;
    if (typeof item.Config !== 'string' || !Array.isArray(item.Layers) || !item.Layers.every((l) => typeof l === 'string')) {
      throw new InvalidArgumentError(`${w} needs Config (a path) and Layers (a list of paths)`);
    }
    const tags = item.RepoTags === null || item.RepoTags === undefined ? [] : item.RepoTags;
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new InvalidArgumentError(`${w}.RepoTags is not a list of references`);
    const refs = tags.map((t) => parseReference(t).name);
    // The config's file name is its digest in both Docker layouts: a mismatch means tampering.
    const config = await ingest.putFile(await fileIn(dir, item.Config, w), `${w}: config ${item.Config}`, expectedFromName(item.Config));
    const layers: Descriptor[] = [];
    for (const l of item.Layers) {
      const file = await fileIn(dir, l, w);
      const b = await ingest.putFile(file, `${w}: layer ${l}`, l.startsWith('blobs/sha256/') ? expectedFromName(l) : undefined);
      const gz = (await sniffCompression(file, `${w}: layer ${l}`)) === 'gzip';
      layers.push({ mediaType: gz ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer, digest: b.digest, size: b.size });
    }
    const cfg = await ingest.config(config.digest, `${w}: config`);
    await ingest.unpackLayers(layers, cfg, w);
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociConfig, digest: config.digest, size: config.size },
      layers,
    };
    const m = await ingest.putJson(manifest, `${w}: manifest`);
    found.push({ manifest: m.digest, id: config.digest, refs });
  }
  return found;
}

/** A blob of the layout, copied into the store and checked against its descriptor. */
async function layoutBlob(dir: string, ingest: Ingest, d: Descriptor, what: string): Promise<void> {
  const file = await fileIn(dir, `blobs/sha256/${digestHex(d.digest)}`, what);
  await ingest.putFile(file, `${what}: blob ${d.digest}`, d.digest, d.size);
}

/** The reference an index entry names: containerd's full name, or ref.name when it is a full reference. */
function refOf(d: Descriptor): string[] {
  const full = d.annotations?.['io.containerd.image.name'];
  if (full !== undefined) return [parseReference(full).name];
  const ref = d.annotations?.['org.opencontainers.image.ref.name'];
  // A bare tag (`latest`) names no repository: such an image is loaded untagged, as Docker does.
  if (ref !== undefined && /[:/]/.test(ref)) return [parseReference(ref).name];
  return [];
}

async function ingestOciLayout(dir: string, ingest: Ingest, what: string): Promise<FoundImage[]> {
  const index = parseIndex(await readSmall(path.join(dir, 'index.json'), `${what}: index.json`), `${what}: index.json`);
  if (index.manifests.length === 0) throw new InvalidArgumentError(`${what}: index.json lists no images`);
  const found: FoundImage[] = [];
  for (const [i, top] of index.manifests.entries()) {
    const w = `${what}: index.json manifests[${i}]`;
    let desc = top;
    if (isIndexType(desc.mediaType)) {
      await layoutBlob(dir, ingest, desc, w);
      const nested = parseIndex(parseJson(await ingest.blobs.readBuffer(desc.digest, metadataBytesMax), w), w);
      desc = pickPlatform(nested, w);
    }
    await layoutBlob(dir, ingest, desc, w);
    const manifest = await ingest.manifest(desc.digest, `${w}: manifest`);
    await layoutBlob(dir, ingest, manifest.config, w);
    for (const l of manifest.layers) await layoutBlob(dir, ingest, l, w);
    const cfg = await ingest.config(manifest.config.digest, `${w}: config`);
    await ingest.unpackLayers(manifest.layers, cfg, w);
    found.push({ manifest: desc.digest, id: manifest.config.digest, refs: refOf(top) });
  }
  return found;
}
