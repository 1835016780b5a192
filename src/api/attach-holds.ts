/**
 * Attached output streams in progress, by container reference: Docker's --rm removal of a container
 * waits for them, so that `docker run --rm` still gets the output of a container that exits at once.
 */
export class AttachHolds {
  private readonly holds = new Map<string, Set<Promise<void>>>();

  /** Registers a stream on ref until done settles. */
  hold(ref: string, done: Promise<unknown>): void {
    const p = done.then(() => undefined, () => undefined);
    let set = this.holds.get(ref);
    if (set === undefined) this.holds.set(ref, set = new Set());
    set.add(p);
    void p.then(() => {
      set.delete(p);
      if (set.size === 0 && this.holds.get(ref) === set) this.holds.delete(ref);
    });
  }

  /** Resolves once no stream holds any of the refs (a container's id and name). */
  async released(refs: readonly string[]): Promise<void> {
    for (;;) {
      const pending = refs.flatMap((r) => [...(this.holds.get(r) ?? [])]);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }
}
