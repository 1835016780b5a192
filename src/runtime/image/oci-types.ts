import { InvalidArgumentError } from '../../types/errors';
import { parseDigest, type Digest } from './digest';

/** Media types we read and write. Docker's v2 names are accepted wherever the OCI ones are. */
export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const indexTypes = new Set<string>([mediaTypes.ociIndex, mediaTypes.dockerList]);
const manifestTypes = new Set<string>([mediaTypes.ociManifest, mediaTypes.dockerManifest]);

/** True for an image index / manifest list media type. */
export const isIndexType = (t: string | undefined): boolean => t !== undefined && indexTypes.has(t);
/** True for an image manifest media type. */
export const isManifestType = (t: string | undefined): boolean => t !== undefined && manifestTypes.has(t);

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: { architecture?: string; os?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** An image manifest. */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image index or Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The part of an image config that a container is started from. */
export interface RunConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

/** An image config (OCI image spec / Docker image JSON), the fields shoal uses. */
export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config?: RunConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: unknown[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses JSON from outside, naming the document when it is not JSON. */
export function parseJson(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Checks a descriptor from a manifest or index. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObj(v)) throw new InvalidArgumentError(`${what} is not an object`);
  if (typeof v.mediaType !== 'string') throw new InvalidArgumentError(`${what}.mediaType is missing`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new InvalidArgumentError(`${what}.size is not a byte count`);
  const d: Descriptor = { mediaType: v.mediaType, digest: parseDigest(v.digest, `${what}.digest`), size: v.size };
  if (isObj(v.platform)) d.platform = v.platform;
  if (isObj(v.annotations)) d.annotations = v.annotations as Record<string, string>;
  return d;
}

/** Checks an image manifest. */
export function parseManifest(v: unknown, what: string): Manifest {
  if (!isObj(v) || v.schemaVersion !== 2) throw new InvalidArgumentError(`${what} is not a schema 2 image manifest`);
  if (v.mediaType !== undefined && !isManifestType(v.mediaType as string)) throw new InvalidArgumentError(`${what} has media type ${JSON.stringify(v.mediaType)}, not an image manifest`);
  if (!Array.isArray(v.layers)) throw new InvalidArgumentError(`${what}.layers is not a list`);
  return {
    schemaVersion: 2,
    mediaType: v.mediaType as string | undefined,
    config: parseDescriptor(v.config, `${what}.config`),
    layers: v.layers.map((l, i) => parseDescriptor(l, `${what}.layers[${i}]`)),
  };
}

/** Checks an image index / manifest list. */
export function parseIndex(v: unknown, what: string): ImageIndex {
  if (!isObj(v) || v.schemaVersion !== 2 || !Array.isArray(v.manifests)) throw new InvalidArgumentError(`${what} is not a schema 2 image index`);
  return { schemaVersion: 2, mediaType: v.mediaType as string | undefined, manifests: v.manifests.map((m, i) => parseDescriptor(m, `${what}.manifests[${i}]`)) };
}

const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Checks an image config, keeping only the run-time fields we know with the right types. */
export function parseImageConfig(v: unknown, what: string): ImageConfig {
  if (!isObj(v)) throw new InvalidArgumentError(`${what} is not an object`);
  const rootfs = v.rootfs;
  if (!isObj(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) throw new InvalidArgumentError(`${what}.rootfs is not {type: "layers", diff_ids: [...]}`);
  const diffIds = rootfs.diff_ids.map((d, i) => parseDigest(d, `${what}.rootfs.diff_ids[${i}]`));
  const c = isObj(v.config) ? v.config : {};
  const run: RunConfig = {};
  if (strList(c.Env)) run.Env = c.Env;
  if (strList(c.Cmd)) run.Cmd = c.Cmd;
  if (strList(c.Entrypoint)) run.Entrypoint = c.Entrypoint;
  if (typeof c.WorkingDir === 'string') run.WorkingDir = c.WorkingDir;
  if (typeof c.User === 'string') run.User = c.User;
  if (typeof c.StopSignal === 'string') run.StopSignal = c.StopSignal;
  if (isObj(c.ExposedPorts)) run.ExposedPorts = c.ExposedPorts as Record<string, object>;
  if (isObj(c.Labels)) run.Labels = c.Labels as Record<string, string>;
  return {
    architecture: typeof v.architecture === 'string' ? v.architecture : '',
    os: typeof v.os === 'string' ? v.os : '',
    created: typeof v.created === 'string' ? v.created : undefined,
    config: run,
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
}

/** Picks linux/amd64 from an index, as a worker on this platform would run it. */
export function pickPlatform(index: ImageIndex, what: string, arch = 'amd64', os = 'linux'): Descriptor {
  const found = index.manifests.find((m) => m.platform?.os === os && m.platform?.architecture === arch && isManifestType(m.mediaType))
    ?? (index.manifests.length === 1 && index.manifests[0].platform === undefined ? index.manifests[0] : undefined);
  if (found === undefined) {
    const have = index.manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`).join(', ');
    throw new InvalidArgumentError(`${what} has no ${os}/${arch} image (it has: ${have || 'nothing'})`);
  }
  return found;
}
