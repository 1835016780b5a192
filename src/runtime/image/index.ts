// The image half of the runtime, as the container side and the CLI use it.
export { ImageStore, type ImageStoreOptions, type ImageSummary, type InUse, type LoadedImage, type ResolvedImage } from './image-store';
export { DigestMismatchError, ImageInUseError, UnsafeEntryError, type UnsafeReason } from './errors';
export { type Digest } from './digest';
export { type RunConfig } from './oci-types';
export { normalizeReference, parseReference, type ImageReference } from './reference';
export { type RegistryCredentials, type RegistryOptions } from './registry-client';
export { defaultExtractLimits, type ExtractLimits } from './extract';
