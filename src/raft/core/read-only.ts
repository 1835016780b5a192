import type { NodeId } from './types';

/** One ReadIndex request waiting for a quorum to confirm the leader (thesis §6.4). */
export interface PendingRead {
  readonly index: number;
  readonly context: string;
  /** Who asked: this node, or the follower that forwarded it. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** The leader's queue of ReadIndex requests, confirmed in order by heartbeat acks. */
export class ReadOnlyQueue {
  private readonly queue: PendingRead[] = [];

  constructor(readonly maxPending: number) {}

  /** Queues a read; false when the queue is full (the read is dropped, the caller times out). */
  add(index: number, context: string, from: NodeId, self: NodeId): boolean {
    if (this.queue.length >= this.maxPending) return false;
    if (this.queue.some((r) => r.context === context)) return true;
    this.queue.push({ index, context, from, acks: new Set([self]) });
    return true;
  }

  /** Records a heartbeat ack carrying `context`; returns the acks for that read, if pending. */
  ack(context: string, from: NodeId): Set<NodeId> | undefined {
    const r = this.queue.find((q) => q.context === context);
    if (r === undefined) return undefined;
    r.acks.add(from);
    return r.acks;
  }

  /** Removes and returns the reads up to and including `context` (confirmed together). */
  release(context: string): PendingRead[] {
    const k = this.queue.findIndex((q) => q.context === context);
    if (k < 0) return [];
    return this.queue.splice(0, k + 1);
  }

  /** The context of the newest pending read, carried by heartbeats. */
  lastContext(): string {
    return this.queue.length === 0 ? '' : this.queue[this.queue.length - 1].context;
  }

  clear(): void {
    this.queue.length = 0;
  }
}
