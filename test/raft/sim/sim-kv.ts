// The simulator's state machine: a map of string keys to string values, changed by client puts
// carried in normal entries. Snapshots are the map's sorted JSON image.

/** A client put carried by a normal entry. */
export interface KvCommand {
  readonly client: number;
  readonly opId: number;
  readonly key: string;
  readonly value: string;
  /** Filler bytes, so that entry sizes vary and appends split at the message size limit. */
  readonly padBytes?: number;
}

/** The state machine of one simulated node. */
export type Kv = Map<string, string>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a put as the data of a normal entry. */
export function encodeCommand(c: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([c.client, c.opId, c.key, c.value, '.'.repeat(c.padBytes ?? 0)]));
}

/** Decodes a normal entry's data; null for the empty entry a new leader appends. */
export function decodeCommand(data: Uint8Array): KvCommand | null {
  if (data.length === 0) return null;
  const [client, opId, key, value] = JSON.parse(decoder.decode(data)) as [number, number, string, string];
  return { client, opId, key, value };
}

/** The snapshot image of a state machine (sorted, so equal maps encode equally). */
export function encodeKv(kv: Kv): Uint8Array {
  return encoder.encode(kvImage(kv));
}

/** The state machine a snapshot's data describes (empty data: the empty map). */
export function decodeKv(data: Uint8Array): Kv {
  if (data.length === 0) return new Map();
  return new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
}

/** A canonical string for comparing two state machines. */
export function kvImage(kv: Kv): string {
  return JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** True when two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A short readable form of an entry's data for traces. */
export function describeData(data: Uint8Array): string {
  if (data.length === 0) return '(empty)';
  const s = decoder.decode(data);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
