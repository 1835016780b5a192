import type { Clock, TimerHandle } from '../types/clock';
import type { ReplicatedLog } from './replicated-log';

/** The part of the durable RaftNode the manager uses (its planned API). */
export interface RaftNodeLike {
  propose(data: Uint8Array): Promise<unknown>;
  isLeader(): boolean;
}

/**
 * Adapts a RaftNode to the manager's ReplicatedLog. The RaftNode's planned API has no
 * leadership event, so this watches isLeader() every pollMs and reports each change; a RaftNode
 * that grows an event can be wired straight through instead.
 */
export function raftNodeLog(node: RaftNodeLike, clock: Clock, pollMs = 50): ReplicatedLog & { close(): void } {
  const listeners = new Set<(leader: boolean) => void>();
  let leader = node.isLeader();
  let timer: TimerHandle | null = null;
  const poll = (): void => {
    const now = node.isLeader();
    if (now !== leader) {
      leader = now;
      for (const cb of [...listeners]) cb(now);
    }
    timer = clock.setTimer(pollMs, poll);
  };
  timer = clock.setTimer(pollMs, poll);
  return {
    propose: (data) => node.propose(data),
    isLeader: () => node.isLeader(),
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
}
