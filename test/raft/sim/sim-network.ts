// The simulated network: every message gets a delivery time from the seeded PRNG; it may be
// dropped, duplicated, delayed past later messages (reordered) or blocked by a partition.
// Partitions are sets of blocked directed pairs: symmetric ones block both directions.
import type { Message, NodeId } from '../../../src/raft/core/types';
import type { SeededRandom } from '../../../src/types/random';

/** How unreliable the network is; probabilities per message. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Chance that a message takes a long delay (and so overtakes nothing but is overtaken). */
  longDelayRate: number;
  /** Normal delay is 1..delayStepsMax steps. */
  delayStepsMax: number;
  longDelayStepsMax: number;
}

/** Why a message was not delivered, for the sender's owner. */
export type DropReason = 'drop' | 'partition' | 'down';

/** Messages in flight between simulated nodes. */
export class SimNetwork {
  private readonly inFlight = new Map<number, Message[]>();
  private readonly blocked = new Set<number>();
  sent = 0;
  delivered = 0;
  dropped = 0;
  duplicated = 0;

  constructor(private readonly random: SeededRandom, public faults: NetworkFaults) {}

  /** Queues a message sent at `now` (maybe dropped or duplicated). */
  send(m: Message, now: number): void {
    this.sent++;
    if (this.random.chance(this.faults.dropRate)) {
      this.dropped++;
      return;
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    this.duplicated += copies - 1;
    for (let i = 0; i < copies; i++) this.enqueue(m, now + this.delay());
  }

  private delay(): number {
    if (this.random.chance(this.faults.longDelayRate)) return 1 + this.random.int(this.faults.longDelayStepsMax);
    return 1 + this.random.int(this.faults.delayStepsMax);
  }

  private enqueue(m: Message, at: number): void {
    const q = this.inFlight.get(at);
    if (q === undefined) this.inFlight.set(at, [m]);
    else q.push(m);
  }

  /** Messages due at `now`, in the order they were queued; blocked ones are left out. */
  due(now: number, onBlocked: (m: Message) => void): Message[] {
    const q = this.inFlight.get(now);
    if (q === undefined) return [];
    this.inFlight.delete(now);
    const out: Message[] = [];
    for (const m of q) {
      if (this.isBlocked(m.from, m.to)) {
        this.dropped++;
        onBlocked(m);
      } else {
        out.push(m);
      }
    }
    return out;
  }

  /** True when messages from `from` to `to` are cut. */
  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(pairKey(from, to));
  }

  /** Cuts messages from `from` to `to` (one direction). */
  block(from: NodeId, to: NodeId): void {
    if (from !== to) this.blocked.add(pairKey(from, to));
  }

  /** Cuts both directions between every member of `a` and every member of `b`. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  /** Removes every partition. */
  heal(): void {
    this.blocked.clear();
  }

  /** How many directed pairs are cut. */
  blockedPairs(): number {
    return this.blocked.size;
  }

  /** Number of messages still in flight. */
  pending(): number {
    let n = 0;
    for (const q of this.inFlight.values()) n += q.length;
    return n;
  }
}

/** Node ids stay small, so a pair packs into one number. */
function pairKey(from: NodeId, to: NodeId): number {
  return from * 1_000_003 + to;
}
