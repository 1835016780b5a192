/**
 * Turns the leader's sampled "heard from this member within the current election timeout" flags
 * into a steadier reachability: a member is reachable if it was seen active within windowMs. The
 * flags are cleared at every election timeout and set again by the next acknowledgement, so a
 * single sample may be false for a member that is fine.
 */
export class ReachabilityTracker {
  private readonly lastActiveMs = new Map<number, number>();

  constructor(private readonly windowMs: number) {}

  /** Records one sample of member `id` at nowMs. */
  observe(id: number, active: boolean, nowMs: number): void {
    if (active) this.lastActiveMs.set(id, nowMs);
  }

  reachable(id: number, nowMs: number): boolean {
    const at = this.lastActiveMs.get(id);
    return at !== undefined && nowMs - at <= this.windowMs;
  }

  /** Forgets every sample (leadership lost: the next leader samples afresh). */
  clear(): void {
    this.lastActiveMs.clear();
  }
}
