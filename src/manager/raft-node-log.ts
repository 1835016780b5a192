import type { Clock, TimerHandle } from '../types/clock';
import type { ReplicatedLog } from './replicated-log';

/** The part of the durable RaftNode the manager uses. */
export interface RaftNodeLike {
  propose(data: Uint8Array): Promise<unknown>;
  isLeader(): boolean;
  /** Resolves once this node has applied everything committed before the call. */
  readBarrier(): Promise<void>;
}

/**
 * Adapts a RaftNode to the manager's ReplicatedLog. It watches isLeader() every pollMs; on
 * gaining leadership it first waits for a read barrier (which a new leader answers only once
 * its own term's first entry commits), so leadership is reported after every entry of earlier
 * terms is applied here, as the ReplicatedLog contract asks.
 */
export function raftNodeLog(node: RaftNodeLike, clock: Clock, pollMs = 50): ReplicatedLog & { close(): void } {
  const listeners = new Set<(leader: boolean) => void>();
  let leader = false;
  let catchingUp = false;
  let timer: TimerHandle | null = null;
  const report = (now: boolean): void => {
    leader = now;
    for (const cb of [...listeners]) cb(now);
  };
  const poll = (): void => {
    const now = node.isLeader();
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
  return {
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
}
