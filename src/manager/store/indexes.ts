/** The ids under one key of a MultiIndex: iterable, with their count. */
export interface IdSet extends Iterable<string> {
  readonly size: number;
}

/**
 * A secondary index: key to the ids having it. A key held by one id (most slots, for example)
 * stores the id itself rather than a Set of one: 100,000 slots would otherwise cost 100,000 Sets
 * per manager.
 */
export class MultiIndex {
  private readonly map = new Map<string | number, string | Set<string>>();

  add(key: string | number, id: string): void {
    const cur = this.map.get(key);
    if (cur === undefined) this.map.set(key, id);
    else if (typeof cur !== 'string') cur.add(id);
    else if (cur !== id) this.map.set(key, new Set([cur, id]));
  }

  delete(key: string | number, id: string): void {
    const cur = this.map.get(key);
    if (cur === undefined) return;
    if (typeof cur === 'string') {
      if (cur === id) this.map.delete(key);
      return;
    }
    cur.delete(id);
    if (cur.size === 0) this.map.delete(key);
  }

  get(key: string | number): IdSet {
    const cur = this.map.get(key);
    return cur === undefined ? EMPTY : typeof cur === 'string' ? new SingleId(cur) : cur;
  }

  isEmpty(): boolean {
    return this.map.size === 0;
  }

  clear(): void {
    this.map.clear();
  }
}

/** The one id under a key, as an IdSet. */
class SingleId implements IdSet {
  readonly size = 1;
  constructor(private readonly id: string) {}
  *[Symbol.iterator](): Iterator<string> {
    yield this.id;
  }
}

const EMPTY: IdSet = new Set<string>();

/**
 * Tasks by (service, slot), as a map per service keyed by the slot number: no "service/slot"
 * string is built and hashed for every task write.
 */
export class SlotIndex {
  private readonly byService = new Map<string, MultiIndex>();

  add(serviceId: string, slot: number, id: string): void {
    let ix = this.byService.get(serviceId);
    if (ix === undefined) this.byService.set(serviceId, (ix = new MultiIndex()));
    ix.add(slot, id);
  }

  delete(serviceId: string, slot: number, id: string): void {
    const ix = this.byService.get(serviceId);
    if (ix === undefined) return;
    ix.delete(slot, id);
    if (ix.isEmpty()) this.byService.delete(serviceId);
  }

  get(serviceId: string, slot: number): IdSet {
    return this.byService.get(serviceId)?.get(slot) ?? EMPTY;
  }

  clear(): void {
    this.byService.clear();
  }
}
