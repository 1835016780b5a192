import { FailedPreconditionError, InvalidArgumentError } from '../../types/errors';
import { decodeConfChange } from '../core/conf-change';
import type { ConfState, Entry, NodeId } from '../core/types';
import type { MembershipBook } from './snapshot-envelope';

/** Where the book tells the transport about peers. */
export interface PeerSink {
  setPeer(id: NodeId, address: string): void;
  removePeer(id: NodeId): void;
}

/** Every member of a configuration, voting or not, incoming or outgoing. */
export function membersOf(cs: ConfState): Set<NodeId> {
  return new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
}

/**
 * The addresses of the current members and the ids ever removed (never admitted again). Kept
 * from the conf change entries (their `context` is the address) and in every snapshot.
 */
export class MemberBook {
  private readonly addresses = new Map<NodeId, string>();
  private readonly removed = new Set<NodeId>();

  constructor(private readonly selfId: NodeId, private readonly peers: PeerSink) {}

  /** Current members' addresses. */
  get all(): ReadonlyMap<NodeId, string> {
    return this.addresses;
  }

  addressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  /** Adds addresses not known yet (founding members, or the members a joining node was told of). */
  seed(addresses: Readonly<Record<NodeId, string>>): void {
    for (const [k, v] of Object.entries(addresses)) if (!this.addresses.has(Number(k))) this.addresses.set(Number(k), v);
  }

  /** Tells the transport about every known peer (at start). */
  connectAll(): void {
    for (const [id, addr] of this.addresses) if (id !== this.selfId) this.peers.setPeer(id, addr);
  }

  /** Replaces the book with a snapshot's (restart or installed snapshot). */
  restore(book: MembershipBook): void {
    for (const id of this.addresses.keys()) if (!(String(id) in book.addresses)) this.peers.removePeer(id);
    this.addresses.clear();
    for (const [k, v] of Object.entries(book.addresses)) {
      this.addresses.set(Number(k), v);
      if (Number(k) !== this.selfId) this.peers.setPeer(Number(k), v);
    }
    for (const id of book.removed) this.removed.add(id);
  }

  /** The book for a snapshot. */
  toSnapshot(): MembershipBook {
    return { addresses: Object.fromEntries([...this.addresses].map(([k, v]) => [String(k), v])), removed: [...this.removed] };
  }

  /** Replays committed conf change entries found in the log at a restart (before the transport starts). */
  replay(entries: readonly Entry[], commit: number): void {
    for (const e of entries) {
      if (e.type !== 'confChange' || e.index > commit) continue;
      for (const ch of decodeConfChange(e.data).changes) {
        if (ch.type === 'removeNode') {
          this.addresses.delete(ch.nodeId);
          this.removed.add(ch.nodeId);
        } else if (ch.context) this.addresses.set(ch.nodeId, ch.context);
      }
    }
  }

  /** Applied entries moved the configuration from `before` to `after`: learn addresses, drop the removed. */
  changed(applied: readonly Entry[], before: ConfState, after: ConfState): void {
    const was = membersOf(before);
    const now = membersOf(after);
    for (const e of applied) {
      if (e.type !== 'confChange') continue;
      for (const ch of decodeConfChange(e.data).changes) {
        if (ch.type !== 'removeNode' && now.has(ch.nodeId) && ch.context) this.addresses.set(ch.nodeId, ch.context);
      }
    }
    for (const id of was) {
      if (now.has(id)) continue;
      this.removed.add(id);
      this.addresses.delete(id);
      this.peers.removePeer(id);
    }
    for (const id of now) {
      const addr = this.addresses.get(id);
      if (!was.has(id) && addr !== undefined && id !== this.selfId) this.peers.setPeer(id, addr);
    }
  }

  /** Throws unless `id` may join at `address` (a new id, or a learner being made a voter). */
  checkNewMember(id: NodeId, address: string, cs: ConfState): void {
    if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidArgumentError(`raft member id must be a positive integer, got ${id}`);
    if (this.removed.has(id)) throw new FailedPreconditionError(`raft member id ${id} was removed before and cannot be reused`);
    if (membersOf(cs).has(id) && !cs.learners.includes(id)) throw new FailedPreconditionError(`raft member ${id} is already a voter`);
    if (address.trim() === '') throw new InvalidArgumentError(`address of raft member ${id} must not be empty`);
  }
}
