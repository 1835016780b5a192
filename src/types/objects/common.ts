import type { Random } from '../random';

/** Bookkeeping every stored object carries; `version` is the Raft index of its last change (DESIGN.md §3). */
export interface Meta {
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** User labels on a spec: string keys to string values. */
export type Labels = Readonly<Record<string, string>>;

/** The four kinds of object the manager's store holds. */
export type ObjectKind = 'node' | 'service' | 'task' | 'cluster';

/** Meta of an object that has not been written yet; the store fills it when the write applies. */
export const NEW_META: Meta = { version: 0, createdAt: 0, updatedAt: 0 };

const ID_LENGTH = 25;
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A new object id: 25 base36 characters from the injected Random, as SwarmKit's identity.NewID. */
export function newObjectId(random: Random): string {
  let id = '';
  for (let i = 0; i < ID_LENGTH; i++) id += BASE36[random.int(36)];
  return id;
}

/** True when s has the shape of an object id. */
export function isObjectId(s: string): boolean {
  return s.length === ID_LENGTH && /^[0-9a-z]+$/.test(s);
}
