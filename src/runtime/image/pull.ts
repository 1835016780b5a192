import { InvalidArgumentError } from '../../types/errors';
import { Hasher, isDigest, type Digest } from './digest';
import { DigestMismatchError } from './errors';
import type { FoundImage } from './image-archive';
import { metadataBytesMax, type Ingest } from './ingest';
import { isIndexType, isManifestType, mediaTypes, parseIndex, parseJson, parseManifest, pickPlatform } from './oci-types';
import type { ImageReference } from './reference';
import { RegistryClient } from './registry-client';

const manifestAccept = [mediaTypes.ociManifest, mediaTypes.ociIndex, mediaTypes.dockerManifest, mediaTypes.dockerList].join(', ');

/** A manifest or index as the registry sent it, with its digest checked. */
interface FetchedManifest {
  body: Buffer;
  digest: Digest;
  mediaType: string | undefined;
}

async function fetchManifest(client: RegistryClient, ref: string, expected: Digest | undefined, what: string): Promise<FetchedManifest> {
  const res = await client.get(`manifests/${ref}`, manifestAccept);
  const parts: Buffer[] = [];
  const h = new Hasher();
  for await (const c of RegistryClient.stream(res)) {
    h.update(c);
    if (h.bytes > metadataBytesMax) throw new InvalidArgumentError(`${what}: manifest larger than ${metadataBytesMax} bytes`);
    parts.push(c);
  }
  const digest = h.digest();
  // By digest, the content must hash to it; by tag, to what the registry says it is.
  const header = res.headers.get('docker-content-digest') ?? undefined;
  const want = expected ?? (isDigest(header) ? header : undefined);
  if (want !== undefined && want !== digest) throw new DigestMismatchError(`${what}: manifest`, want, digest);
  const body = Buffer.concat(parts);
  const declared = (parseJson(body, `${what}: manifest`) as { mediaType?: unknown }).mediaType;
  const mediaType = typeof declared === 'string' ? declared : res.headers.get('content-type')?.split(';')[0];
  return { body, digest, mediaType };
}

/**
 * Pulls one image: the manifest (from a manifest list, the linux/amd64 one), its config and
 * layers, each checked against its digest as it streams into the store; then unpacks it.
 */
export async function pullImage(ingest: Ingest, ref: ImageReference, client: RegistryClient, what: string): Promise<FoundImage> {
  let m = await fetchManifest(client, ref.digest ?? ref.tag, ref.digest, what);
  if (isIndexType(m.mediaType)) {
    const desc = pickPlatform(parseIndex(parseJson(m.body, `${what}: index`), `${what}: index`), what);
    m = await fetchManifest(client, desc.digest, desc.digest, what);
  }
  if (m.mediaType !== undefined && !isManifestType(m.mediaType)) {
    throw new InvalidArgumentError(`${what}: unsupported manifest type ${m.mediaType}`, { hint: 'schema 1 manifests are not supported; push the image again with a current client' });
  }
  const manifest = parseManifest(parseJson(m.body, `${what}: manifest`), `${what}: manifest`);
  for (const d of [manifest.config, ...manifest.layers]) {
    if (await ingest.blobs.has(d.digest)) continue;
    const res = await client.get(`blobs/${d.digest}`);
    await ingest.put(RegistryClient.stream(res), `${what}: blob ${d.digest}`, d.digest, d.size);
  }
  const cfg = await ingest.config(manifest.config.digest, `${what}: config`);
  await ingest.unpackLayers(manifest.layers, cfg, what);
  await ingest.put([m.body], `${what}: manifest`, m.digest);
  return { manifest: m.digest, id: manifest.config.digest, refs: ref.digest === undefined ? [ref.name] : [] };
}
