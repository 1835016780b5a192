import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { systemClock, type Clock } from '../../types/clock';
import { InvalidArgumentError, NotFoundError } from '../../types/errors';
import { openArchive } from './archive-stream';
import { BlobStore } from './blob-store';
import { isDigest, type Digest } from './digest';
import { ImageInUseError } from './errors';
import { defaultExtractLimits, extractTar, type ExtractLimits } from './extract';
import { ingestArchiveDir, type FoundImage } from './image-archive';
import { Ingest, metadataBytesMax } from './ingest';
import { LayerCache } from './layer-cache';
import { mediaTypes, parseJson, parseManifest, type ImageConfig, type Manifest, type RunConfig } from './oci-types';
import { pullImage } from './pull';
import { parseReference } from './reference';
import { RegistryClient, registryBaseUrl, type RegistryOptions } from './registry-client';
import { readState, writeState, type StoreState } from './store-state';

/** Parsed images kept in memory; starting a container should not re-read and re-hash them. */
const parsedCacheMax = 256;

/** Tells whether a container uses an image (by id); the runtime's container side supplies it. */
export type InUse = (imageId: Digest) => boolean | Promise<boolean>;

/** An image as `images ls` shows it. */
export interface ImageSummary {
  references: string[];
  id: Digest;
  manifest: Digest;
  /** Bytes of its blobs (config and layers as stored). */
  size: number;
  created: string | undefined;
}

/** What the container side needs to run an image. */
export interface ResolvedImage {
  id: Digest;
  manifest: Digest;
  config: RunConfig;
  /** Unpacked layer directories, lowest first (overlayfs `lowerdir=` wants them reversed). */
  layerDirs: string[];
}

/** What a load, import or pull added. */
export interface LoadedImage {
  id: Digest;
  manifest: Digest;
  references: string[];
}

/** Options of an image store. */
export interface ImageStoreOptions {
  limits?: Partial<ExtractLimits>;
  clock?: Clock;
}

/**
 * The image store under one root directory: OCI blobs, unpacked layers, and references.
 * Every change is serialized through one lock, so that garbage collection never sees the
 * blobs of an image that is still being written.
 */
export class ImageStore {
  readonly blobs: BlobStore;
  readonly layers: LayerCache;
  readonly limits: ExtractLimits;
  private readonly clock: Clock;
  private readonly tmpDir: string;
  private lock: Promise<unknown> = Promise.resolve();
  /** Parsed manifests and configs by manifest digest: content-addressed, so never stale. */
  private readonly parsedCache = new Map<Digest, { manifest: Manifest; config: ImageConfig }>();

  private constructor(readonly root: string, opts: ImageStoreOptions) {
    this.blobs = new BlobStore(root);
    this.layers = new LayerCache(root);
    this.limits = { ...defaultExtractLimits, ...opts.limits };
    this.clock = opts.clock ?? systemClock;
    this.tmpDir = path.join(root, 'tmp');
  }

  /** Opens (creating if needed) the store at root, clearing what a crash left half-done (temp files, unrecorded blobs). */
  static async open(root: string, opts: ImageStoreOptions = {}): Promise<ImageStore> {
    const s = new ImageStore(path.resolve(root), opts);
    await fs.mkdir(s.root, { recursive: true, mode: 0o700 });
    await s.blobs.init();
    await s.layers.init();
    await fs.rm(s.tmpDir, { recursive: true, force: true });
    await fs.mkdir(s.tmpDir, { mode: 0o700 });
    await fs.writeFile(path.join(s.root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}\n');
    // A crash between storing blobs and recording their image leaves blobs nothing refers to.
    await s.collect(await readState(s.root));
    return s;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Runs an ingest, registering what it found, or removing all it added on failure. */
  private async ingesting(fn: (ingest: Ingest, tmp: string) => Promise<FoundImage[]>): Promise<LoadedImage[]> {
    return this.locked(async () => {
      const ingest = new Ingest(this.blobs, this.layers, this.limits);
      const tmp = await fs.mkdtemp(path.join(this.tmpDir, 'in-'));
      try {
        const found = await fn(ingest, tmp);
        const state = await readState(this.root);
        const addedAt = new Date(this.clock.now()).toISOString();
        for (const f of found) {
          state.images[f.manifest] ??= { id: f.id, addedAt };
          for (const r of f.refs) state.refs[r] = f.manifest;
        }
        await writeState(this.root, state);
        return found.map((f) => ({ id: f.id, manifest: f.manifest, references: f.refs }));
      } catch (err) {
        await ingest.rollback();
        throw err;
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    });
  }

  /** `docker load`: a `docker save` tarball (either form) or an OCI image-layout tarball. */
  async load(tarball: string): Promise<LoadedImage[]> {
    const what = `image archive ${tarball}`;
    return this.ingesting(async (ingest, tmp) => {
      const dir = path.join(tmp, 'archive');
      await fs.mkdir(dir);
      await extractTar(await openArchive(tarball, what), dir, { limits: this.limits, overlayWhiteouts: false, preserveOwners: false });
      return ingestArchiveDir(dir, ingest, what);
    });
  }

  /** `docker import`: a root filesystem tarball (tar or tar+gzip) becomes a one-layer image. */
  async importRootfs(tarball: string, reference: string, config: RunConfig = {}): Promise<LoadedImage> {
    const ref = parseReference(reference).name;
    const what = `root filesystem ${tarball}`;
    const [img] = await this.ingesting(async (ingest) => {
      const layer = await ingest.putFile(tarball, what);
      const diffId = await ingest.unpackUnknown(layer.digest);
      const created = new Date(this.clock.now()).toISOString();
      const cfg: ImageConfig = {
        architecture: 'amd64', os: 'linux', created, config,
        rootfs: { type: 'layers', diff_ids: [diffId] },
      };
      const c = await ingest.putJson({ ...cfg, history: [{ created, created_by: 'shoal import', comment: 'imported from a root filesystem tarball' }] }, `${what}: config`);
      const layerType = layer.digest === diffId ? mediaTypes.ociLayer : mediaTypes.ociLayerGzip;
      const manifest: Manifest = {
        schemaVersion: 2, mediaType: mediaTypes.ociManifest,
        config: { mediaType: mediaTypes.ociConfig, digest: c.digest, size: c.size },
        layers: [{ mediaType: layerType, digest: layer.digest, size: layer.size }],
      };
      const m = await ingest.putJson(manifest, `${what}: manifest`);
      return [{ manifest: m.digest, id: c.digest, refs: [ref] }];
    });
    return img;
  }

  /** `docker pull` from an OCI distribution registry. */
  async pull(reference: string, opts: RegistryOptions = {}): Promise<LoadedImage> {
    const ref = parseReference(reference);
    const base = registryBaseUrl(ref.registry, opts.insecureRegistries);
    const client = new RegistryClient(base, ref.repository, opts);
    const [img] = await this.ingesting(async (ingest) => [await pullImage(ingest, ref, client, `pull of ${reference}`)]);
    return img;
  }

  /** Finds an image by reference, by id (`sha256:...`), or by a unique id prefix of 12+ hex digits. */
  private lookup(state: StoreState, ref: string): { manifest: Digest; id: Digest; viaRef: string | undefined } {
    const byId = (pred: (id: string) => boolean): { manifest: Digest; id: Digest; viaRef: undefined } | undefined => {
      const hits = Object.entries(state.images).filter(([, r]) => pred(r.id));
      const ids = new Set(hits.map(([, r]) => r.id));
      if (ids.size > 1) throw new InvalidArgumentError(`image id prefix ${ref} is ambiguous`, { hint: 'give more digits' });
      return hits.length === 0 ? undefined : { manifest: hits[0][0] as Digest, id: hits[0][1].id, viaRef: undefined };
    };
    if (isDigest(ref)) {
      const hit = byId((id) => id === ref);
      if (hit !== undefined) return hit;
    } else if (/^[0-9a-f]{12,64}$/.test(ref)) {
      const hit = byId((id) => id.slice('sha256:'.length).startsWith(ref));
      if (hit !== undefined) return hit;
    }
    const name = parseReference(ref).name;
    const manifest = state.refs[name];
    if (manifest === undefined) throw new NotFoundError(`image ${ref} not found`, { hint: 'load, import or pull it first' });
    return { manifest, id: state.images[manifest].id, viaRef: name };
  }

  private async readManifest(d: Digest): Promise<Manifest> {
    return parseManifest(parseJson(await this.blobs.readBuffer(d, metadataBytesMax), `manifest ${d}`), `manifest ${d}`);
  }

  /** Everything a container needs to run an image; a layer missing from the cache is unpacked again. */
  async resolve(ref: string): Promise<ResolvedImage> {
    const state = await readState(this.root);
    const { manifest, id } = this.lookup(state, ref);
    let parsed = this.parsedCache.get(manifest);
    if (parsed === undefined) {
      const m = await this.readManifest(manifest);
      parsed = { manifest: m, config: await new Ingest(this.blobs, this.layers, this.limits).config(m.config.digest, `config of ${ref}`) };
      if (this.parsedCache.size >= parsedCacheMax) this.parsedCache.clear();
      this.parsedCache.set(manifest, parsed);
    }
    const { manifest: m, config: cfg } = parsed;
    const missing = await Promise.all(cfg.rootfs.diff_ids.map(async (d) => !(await this.layers.has(d))));
    if (missing.some((x) => x)) await this.locked(() => new Ingest(this.blobs, this.layers, this.limits).unpackLayers(m.layers, cfg, `image ${ref}`));
    return { id, manifest, config: structuredClone(cfg.config ?? {}), layerDirs: cfg.rootfs.diff_ids.map((d) => this.layers.pathOf(d)) };
  }

  /** `images ls`: one line per image, with all its references (none for a dangling image). */
  async list(): Promise<ImageSummary[]> {
    const state = await readState(this.root);
    const out: ImageSummary[] = [];
    for (const [manifest, rec] of Object.entries(state.images)) {
      const d = manifest as Digest;
      const m = await this.readManifest(d);
      const cfg = await new Ingest(this.blobs, this.layers, this.limits).config(m.config.digest, `config of ${d}`);
      out.push({
        references: Object.entries(state.refs).filter(([, v]) => v === d).map(([k]) => k).sort(),
        id: rec.id,
        manifest: d,
        size: m.config.size + m.layers.reduce((a, l) => a + l.size, 0),
        created: cfg.created,
      });
    }
    // Tagged images by name, then dangling ones (as `docker images` shows <none> last).
    const key = (i: ImageSummary): string => (i.references.length === 0 ? `1${i.id}` : `0${i.references[0]}`);
    return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  /**
   * `rmi`: by reference, removes that reference, and the image with its last one; by id,
   * the image and all its references. Refused while a container uses the image. What is no
   * longer used by any image is then collected.
   */
  async remove(ref: string, inUse: InUse): Promise<{ untagged: string[]; deleted: Digest | undefined }> {
    return this.locked(async () => {
      const state = await readState(this.root);
      const hit = this.lookup(state, ref);
      const refsOfImage = Object.entries(state.refs).filter(([, m]) => m === hit.manifest).map(([k]) => k);
      const untagged = hit.viaRef !== undefined && refsOfImage.length > 1 ? [hit.viaRef] : refsOfImage;
      const deletes = untagged.length === refsOfImage.length;
      if (deletes && (await inUse(hit.id))) throw new ImageInUseError(ref, hit.id);
      for (const r of untagged) delete state.refs[r];
      if (deletes) delete state.images[hit.manifest];
      await writeState(this.root, state);
      if (deletes) await this.collect(state);
      return { untagged, deleted: deletes ? hit.id : undefined };
    });
  }

  /**
   * `image prune`: removes dangling images (no reference left, e.g. after a newer image took
   * their tag) that no container uses, then collects what they held.
   */
  async prune(inUse: InUse): Promise<{ deleted: Digest[] }> {
    return this.locked(async () => {
      const state = await readState(this.root);
      const referenced = new Set<string>(Object.values(state.refs));
      const deleted: Digest[] = [];
      for (const [manifest, rec] of Object.entries(state.images)) {
        if (referenced.has(manifest) || (await inUse(rec.id))) continue;
        delete state.images[manifest];
        deleted.push(rec.id);
      }
      await writeState(this.root, state);
      await this.collect(state);
      return { deleted };
    });
  }

  /** Removes every blob and unpacked layer that no image in the store refers to. */
  async gc(): Promise<{ blobsRemoved: number; layersRemoved: number }> {
    return this.locked(async () => this.collect(await readState(this.root)));
  }

  private async collect(state: StoreState): Promise<{ blobsRemoved: number; layersRemoved: number }> {
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const manifest of Object.keys(state.images)) {
      const d = manifest as Digest;
      keepBlobs.add(d);
      const m = await this.readManifest(d);
      keepBlobs.add(m.config.digest);
      for (const l of m.layers) keepBlobs.add(l.digest);
      const cfg = await new Ingest(this.blobs, this.layers, this.limits).config(m.config.digest, `config of ${d}`);
      for (const id of cfg.rootfs.diff_ids) keepLayers.add(id);
    }
    let blobsRemoved = 0;
    let layersRemoved = 0;
    for (const b of await this.blobs.list()) {
      if (!keepBlobs.has(b)) {
        await this.blobs.remove(b);
        blobsRemoved += 1;
      }
    }
    for (const l of await this.layers.list()) {
      if (!keepLayers.has(l)) {
        await this.layers.remove(l);
        layersRemoved += 1;
      }
    }
    return { blobsRemoved, layersRemoved };
  }
}
