import { InvalidArgumentError, NotFoundError, ShoalError } from '../../types/errors';

/**
 * Docker resolves an object by full id, name, or a unique id prefix. `exact` looks up an id or
 * name; on NotFound the listing is searched for a unique prefix.
 */
export async function resolveRef<T extends { id: string }>(ref: string, kind: string, exact: (ref: string) => Promise<T>, list: () => Promise<T[]>): Promise<T> {
  if (ref === '') throw new InvalidArgumentError(`${kind} id or name must not be empty`);
  try {
    return await exact(ref);
  } catch (err) {
    if (!ShoalError.is(err, 'NotFound')) throw err;
    const hits = (await list()).filter((o) => o.id.startsWith(ref));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new InvalidArgumentError(`${kind} ${ref} is ambiguous (${hits.length} matches found)`);
    throw new NotFoundError(`${kind} ${ref} not found`);
  }
}
