/** A secondary index: key to the set of object ids having it. */
export class MultiIndex {
  private readonly map = new Map<string | number, Set<string>>();

  add(key: string | number, id: string): void {
    let s = this.map.get(key);
    if (s === undefined) this.map.set(key, (s = new Set()));
    s.add(id);
  }

  delete(key: string | number, id: string): void {
    const s = this.map.get(key);
    if (s === undefined) return;
    s.delete(id);
    if (s.size === 0) this.map.delete(key);
  }

  get(key: string | number): ReadonlySet<string> {
    return this.map.get(key) ?? EMPTY;
  }

  clear(): void {
    this.map.clear();
  }
}

const EMPTY: ReadonlySet<string> = new Set();
