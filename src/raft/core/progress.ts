/** How the leader is replicating to one follower (etcd-raft's flow control states). */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one member's log and the flow control toward it. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append was sent and not answered yet; wait for a reply or a heartbeat response. */
  probeSent = false;
  /** snapshot: the index of the snapshot in flight, and ticks since it was sent. */
  pendingSnapshot = 0;
  snapshotTicks = 0;
  /** Heard from within the current election timeout (CheckQuorum). */
  recentActive = true;
  /** Last indexes of the 'app' messages in flight (replicate state), oldest first. */
  readonly inflights: number[] = [];

  constructor(next: number, readonly maxInflight: number) {
    this.next = next;
  }

  /** True when no append should be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflights.length >= this.maxInflight;
      case 'snapshot': return true;
    }
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.length = 0;
  }

  becomeProbe(): void {
    // After a snapshot, continue from what it covered if the follower has not confirmed more.
    const from = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
    this.next = from;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** Records an acknowledgement of index n; returns false for a stale one. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append after `rejected`; `hint` is where the logs may agree. Returns
   * false for a stale rejection.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Notes an append sent with entries up to `last`. */
  sentEntries(last: number, count: number): void {
    if (this.state === 'replicate' && count > 0) {
      this.next = last + 1;
      this.inflights.push(last);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** Frees the in-flight slots acknowledged up to index. */
  freeInflightsTo(index: number): void {
    let k = 0;
    while (k < this.inflights.length && this.inflights[k] <= index) k++;
    this.inflights.splice(0, k);
  }
}
