// The per-seed shape of a run: cluster size, Raft settings and fault rates, all drawn from the
// seed's PRNG so that seeds cover different mixes.
import type { SeededRandom } from '../../../src/types/random';
import type { NetworkFaults } from './sim-network';

/** Everything about a run that the seed chooses up front. */
export interface SimProfile {
  readonly founders: number;
  readonly clients: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /** Simulated steps per Raft tick. */
  readonly tickSteps: number;
  readonly network: NetworkFaults;
  /** Per-step chances of fault events during the fault phase. */
  readonly partitionRate: number;
  readonly healRate: number;
  readonly crashRate: number;
  readonly restartDelayTicksMax: number;
  /** Chance, per granted vote, that the voter crashes right after sending it. */
  readonly crashAfterVoteRate: number;
  /** Chance, per 'app' message carrying entries, that the leader crashes right after sending it. */
  readonly crashLeaderAfterAppendRate: number;
  /** Chance, per 'app' message carrying entries, that its sender is cut off from everyone at the next step. */
  readonly isolateAfterAppendRate: number;
  /** The same, for the append carrying a new leader's first (empty) entry of its term. */
  readonly isolateNewLeaderRate: number;
  /** Chance that a leader whose commit index just passed entries of earlier terms is cut off at once (Figure 8). */
  readonly isolateAfterOldCommitRate: number;
  /** Owners send 'app' messages before persisting the Ready (the leader's exception, §10.2.1). */
  readonly appsBeforeWrite: boolean;
  /** Chance, per Ready whose 'app' messages went out first, that the node crashes before its write. */
  readonly crashMidWriteRate: number;
  readonly confChangeRate: number;
  readonly transferRate: number;
  readonly snapshotRate: number;
  readonly snapshotTailMax: number;
  /** Per-step chance that an idle client starts an operation. */
  readonly clientOpRate: number;
  readonly opTimeoutSteps: number;
}

/** Draws a profile from the seed's PRNG (the first draws of every run). */
export function drawProfile(r: SeededRandom): SimProfile {
  const tickSteps = 10;
  return {
    founders: 3 + r.int(5),
    clients: 3 + r.int(3),
    preVote: r.chance(0.75),
    checkQuorum: r.chance(0.75),
    electionTick: 10,
    heartbeatTick: 1 + r.int(2),
    maxSizePerMsgBytes: r.pick([64, 64, 128, 512, 4096]),
    maxInflightMsgs: 2 + r.int(7),
    tickSteps,
    network: {
      dropRate: r.pick([0, 0.01, 0.03, 0.08]),
      duplicateRate: r.pick([0, 0.01, 0.05]),
      longDelayRate: r.pick([0, 0.02, 0.1]),
      delayStepsMax: 1 + r.int(tickSteps),
      longDelayStepsMax: 6 * tickSteps,
    },
    partitionRate: r.pick([0.002, 0.005, 0.01]),
    healRate: r.pick([0.005, 0.01, 0.02]),
    crashRate: r.pick([0.001, 0.003, 0.006]),
    restartDelayTicksMax: r.pick([3, 15, 40]),
    crashAfterVoteRate: r.pick([0, 0.05, 0.2]),
    crashLeaderAfterAppendRate: r.pick([0, 0.002, 0.01]),
    isolateAfterAppendRate: r.pick([0, 0.005, 0.02]),
    isolateNewLeaderRate: r.pick([0, 0.1, 0.3]),
    isolateAfterOldCommitRate: r.pick([0, 0.3, 0.8]),
    appsBeforeWrite: r.chance(0.5),
    crashMidWriteRate: r.pick([0, 0.005, 0.03]),
    confChangeRate: r.pick([0.001, 0.003, 0.006]),
    transferRate: r.pick([0.0005, 0.002]),
    snapshotRate: r.pick([0.002, 0.01, 0.03]),
    snapshotTailMax: r.pick([0, 3, 20]),
    clientOpRate: r.pick([0.05, 0.15]),
    opTimeoutSteps: 40 * tickSteps,
  };
}

/** One line describing a profile, for traces. */
export function describeProfile(p: SimProfile): string {
  const n = p.network;
  return `${p.founders} founders, ${p.clients} clients, preVote=${p.preVote} checkQuorum=${p.checkQuorum} ` +
    `heartbeat=${p.heartbeatTick} msgBytes=${p.maxSizePerMsgBytes} inflight=${p.maxInflightMsgs} ` +
    `appsBeforeWrite=${p.appsBeforeWrite}; ` +
    `drop=${n.dropRate} dup=${n.duplicateRate} longDelay=${n.longDelayRate}; ` +
    `partition=${p.partitionRate} crash=${p.crashRate} crashAfterVote=${p.crashAfterVoteRate} ` +
    `confChange=${p.confChangeRate} snapshot=${p.snapshotRate}`;
}
