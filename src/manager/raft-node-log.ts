import type { Clock, TimerHandle } from '../types/clock';
import { FailedPreconditionError } from '../types/errors';
import { ReachabilityTracker } from './reachability';
import type { LogMember, RaftMembership, ReplicatedLog } from './replicated-log';

/** The part of the durable RaftNode the manager uses. */
export interface RaftNodeLike {
  propose(data: Uint8Array): Promise<unknown>;
  isLeader(): boolean;
  /** Resolves once this node has applied everything committed before the call. */
  readBarrier(): Promise<void>;
  /** Own id and the current configuration (optional: without it the log names no members). */
  status?(): { readonly id: number; readonly confState: { readonly voters: readonly number[] } };
  /** The leader's view of a member: whether it answered within the current election timeout. */
  progressOf?(id: number): { readonly match: number; readonly recentActive: boolean } | undefined;
}

/** Settings of the adapter. */
export interface RaftNodeLogOptions {
  /** A member is reachable if the leader heard from it within this long (default 3 s: a few election timeouts). */
  readonly reachableWindowMs?: number;
}

/**
 * Adapts a RaftNode to the manager's ReplicatedLog. It watches isLeader() every pollMs; on
 * gaining leadership it first waits for a read barrier (which a new leader answers only once
 * its own term's first entry commits), so leadership is reported after every entry of earlier
 * terms is applied here, as the ReplicatedLog contract asks. While leading it samples each
 * member's recent activity, which members() reports as reachability.
 */
export function raftNodeLog(node: RaftNodeLike, clock: Clock, pollMs = 50, opts: RaftNodeLogOptions = {}): ReplicatedLog & { close(): void } {
  const listeners = new Set<(leader: boolean) => void>();
  const reach = new ReachabilityTracker(opts.reachableWindowMs ?? 3000);
  let leader = false;
  let catchingUp = false;
  let timer: TimerHandle | null = null;
  const report = (now: boolean): void => {
    leader = now;
    for (const cb of [...listeners]) cb(now);
  };
  const sample = (): void => {
    if (node.status === undefined || node.progressOf === undefined) return;
    const st = node.status();
    for (const id of st.confState.voters) if (id !== st.id) reach.observe(id, node.progressOf(id)?.recentActive ?? false, clock.now());
  };
  const poll = (): void => {
    const now = node.isLeader();
    if (now) sample();
    else reach.clear();
    if (!now && leader) report(false);
    else if (now && !leader && !catchingUp) {
      catchingUp = true;
      node.readBarrier().then(
        () => { catchingUp = false; if (timer !== null && node.isLeader() && !leader) report(true); },
        () => { catchingUp = false; },
      );
    }
    timer = clock.setTimer(pollMs, poll);
  };
  timer = clock.setTimer(0, poll);
  const log: ReplicatedLog & { close(): void } = {
    propose: (data) => node.propose(data),
    isLeader: () => leader && node.isLeader(),
    onLeadershipChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    close() {
      timer?.cancel();
      timer = null;
      listeners.clear();
    },
  };
  const status = node.status?.bind(node);
  if (status !== undefined) {
    log.selfRaftId = () => status().id;
    log.members = (): LogMember[] => {
      const st = status();
      return st.confState.voters.map((raftId) => ({ raftId, reachable: raftId === st.id || reach.reachable(raftId, clock.now()) }));
    };
  }
  return log;
}

/** The part of the RaftNode that changes membership. */
export interface RaftNodeMembershipLike {
  removeMember(id: number): Promise<void>;
  transferLeadership(to: number): Promise<void>;
  status(): { readonly id: number; readonly confState: { readonly voters: readonly number[]; readonly learners?: readonly number[] } };
  progressOf(id: number): { readonly match: number; readonly recentActive: boolean } | undefined;
}

/**
 * The control API's RaftMembership hook over a RaftNode: removes members, and for the leader's own
 * removal hands leadership to the most up-to-date other voter that answers.
 */
export function raftNodeMembership(node: RaftNodeMembershipLike): RaftMembership {
  return {
    remove: (raftId) => node.removeMember(raftId),
    isMember: (raftId) => {
      const cs = node.status().confState;
      return cs.voters.includes(raftId) || (cs.learners ?? []).includes(raftId);
    },
    selfRaftId: () => node.status().id,
    async transferLeadership() {
      const st = node.status();
      const heirs = st.confState.voters.filter((id) => id !== st.id)
        .map((id) => ({ id, pr: node.progressOf(id) }))
        .filter((h) => h.pr?.recentActive === true)
        .sort((a, b) => (b.pr?.match ?? 0) - (a.pr?.match ?? 0));
      if (heirs.length === 0) throw new FailedPreconditionError('no other manager is reachable to take over leadership');
      await node.transferLeadership(heirs[0].id);
    },
  };
}
