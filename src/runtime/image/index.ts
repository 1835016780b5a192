// The image half of the runtime, as the container side and the CLI use it.
//
// On disk, under the root given to ImageStore.open (the daemon passes <data-root>/images):
//   oci-layout, blobs/sha256/<hex>   OCI image layout: manifests, configs, layer blobs
//   images.json                      recorded images and `name:tag` references (atomic writes)
//   layers/<diff id hex>/            unpacked layers, overlayfs-ready (whiteouts as 0/0 devices,
//                                    opaque dirs with trusted.overlay.opaque=y)
//   ingest/, tmp/, layers/.tmp-*     scratch space, emptied on open
// resolve(ref).layerDirs is lowest first; overlayfs' lowerdir= wants the reverse order.
export { ImageStore, type ImageStoreOptions, type ImageSummary, type InUse, type LoadedImage, type ResolvedImage } from './image-store';
export { DigestMismatchError, ImageInUseError, UnsafeEntryError, type UnsafeReason } from './errors';
export { type Digest } from './digest';
export { type RunConfig } from './oci-types';
export { normalizeReference, parseReference, type ImageReference } from './reference';
export { type RegistryCredentials, type RegistryOptions } from './registry-client';
export { defaultExtractLimits, type ExtractLimits } from './extract';
