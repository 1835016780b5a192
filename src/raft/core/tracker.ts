import type { ConfState, NodeId } from './types';

/** Votes or acks from a set of voters: what a majority of each configuration says. */
export type VoteResult = 'won' | 'lost' | 'pending';

/** The result of one majority configuration given who said yes and who said no. */
function majorityResult(voters: ReadonlySet<NodeId>, yes: (id: NodeId) => boolean | undefined): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = yes(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** The highest index a majority of voters has (Infinity for an empty configuration). */
function majorityIndex(voters: ReadonlySet<NodeId>, match: (id: NodeId) => number): number {
  if (voters.size === 0) return Infinity;
  const ms = [...voters].map(match).sort((a, b) => b - a);
  return ms[Math.floor(voters.size / 2)];
}

/** A membership configuration, possibly joint (Raft thesis §4.3). */
export class Membership {
  voters: Set<NodeId>;
  votersOutgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;

  constructor(cs: ConfState) {
    this.voters = new Set(cs.voters);
    this.votersOutgoing = new Set(cs.votersOutgoing);
    this.learners = new Set(cs.learners);
    this.learnersNext = new Set(cs.learnersNext);
    this.autoLeave = cs.autoLeave;
  }

  static empty(): Membership {
    return new Membership({ voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
  }

  clone(): Membership {
    return new Membership(this.toConfState());
  }

  toConfState(): ConfState {
    const sorted = (s: Set<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);
    return {
      voters: sorted(this.voters),
      learners: sorted(this.learners),
      votersOutgoing: sorted(this.votersOutgoing),
      learnersNext: sorted(this.learnersNext),
      autoLeave: this.autoLeave,
    };
  }

  isJoint(): boolean {
    return this.votersOutgoing.size > 0;
  }

  /** A voter in either half of the configuration. */
  isVoter(id: NodeId): boolean {
    return this.voters.has(id) || this.votersOutgoing.has(id);
  }

  /** Every member that receives the log: voters of both halves and learners. */
  members(): Set<NodeId> {
    return new Set([...this.voters, ...this.votersOutgoing, ...this.learners, ...this.learnersNext]);
  }

  /** Every voter of either half. */
  allVoters(): Set<NodeId> {
    return new Set([...this.voters, ...this.votersOutgoing]);
  }

  /** The outcome of a vote (or ack round): joint configurations need both majorities. */
  voteResult(yes: (id: NodeId) => boolean | undefined): VoteResult {
    const a = majorityResult(this.voters, yes);
    const b = majorityResult(this.votersOutgoing, yes);
    if (a === 'won' && b === 'won') return 'won';
    if (a === 'lost' || b === 'lost') return 'lost';
    return 'pending';
  }

  /** The highest index replicated on a majority of each half (§5.3, §4.3). */
  committedIndex(match: (id: NodeId) => number): number {
    return Math.min(majorityIndex(this.voters, match), majorityIndex(this.votersOutgoing, match));
  }
}
