import type { ConfChange } from './types';

/** Encodes a ConfChange as the data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ changes: cc.changes, transition: cc.transition ?? 'auto' }));
}

/** Decodes the data of a confChange entry. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(new TextDecoder().decode(data)) as ConfChange;
}
