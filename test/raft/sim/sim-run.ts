// One simulated run: a seed draws the profile, the cluster is driven through a fault phase and
// then a healing phase, and the safety properties are checked after every step. Everything,
// from message delays to election timeouts, comes from the one seeded PRNG, so a seed replays
// exactly (STYLE.md §2).
import type { RaftBug, RaftConfig } from '../../../src/raft/core/types';
import { ShoalError } from '../../../src/types/errors';
import { SeededRandom } from '../../../src/types/random';
import { Invariants, SimViolation, violation } from './invariants';
import { checkLinearizable } from './linearizability';
import { ClientModel } from './sim-clients';
import { members, SimCluster } from './sim-cluster';
import { FaultInjector } from './sim-faults';
import { kvImage } from './sim-kv';
import { SimNetwork } from './sim-network';
import type { NodeObserver, SimNode } from './sim-node';
import { describeProfile, drawProfile, type SimProfile } from './sim-profile';
import { SimTrace } from './sim-trace';

/** Default length of the fault phase, in steps (a tick is profile.tickSteps steps). */
export const FAULT_STEPS_DEFAULT = 6000;
/** Seeds CI runs (test/raft/sim/simulator.test.ts); the deliberate bugs must be caught within them. */
export const CI_SEEDS = 500;
/** Bound on the healing phase: the cluster must make progress within it. */
export const HEAL_STEPS_MAX = 4000;

/** How to run one seed. */
export interface RunOptions {
  /** Steps of the fault phase. */
  readonly steps?: number;
  /** Deliberate core bugs to switch on (test only). */
  readonly bugs?: readonly RaftBug[];
  /** Check the Ready contract step by step too (default true); false leaves only the paper's properties. */
  readonly contractChecks?: boolean;
  /** Receives every trace line as it happens (--verbose). */
  readonly echo?: (line: string) => void;
}

/** What one seed did; `violation` is set when a property broke (or the core threw). */
export interface RunResult {
  readonly seed: number;
  readonly violation: string | null;
  readonly profile: string;
  /** The last events before the end (or the violation). */
  readonly trace: readonly string[];
  readonly stats: Record<string, number>;
}

/** Runs one seed to the end or to its first violation. */
export function runSeed(seed: number, options: RunOptions = {}): RunResult {
  const sim = new SimRun(seed, options);
  let problem: string | null = null;
  try {
    sim.run(options.steps ?? FAULT_STEPS_DEFAULT);
  } catch (err) {
    if (err instanceof SimViolation) problem = err.message;
    else if (err instanceof Error) problem = `${err.name}: ${err.message}${stackTop(err)}`;
    else throw err;
  }
  return { seed, violation: problem, profile: describeProfile(sim.profile), trace: sim.trace.lines(), stats: sim.stats() };
}

/** The innermost frame of a thrown error, to say where the core broke. */
function stackTop(err: Error): string {
  const frame = err.stack?.split('\n').find((l) => l.trim().startsWith('at '));
  return frame === undefined ? '' : ` (${frame.trim()})`;
}

/** The simulation of one seed. */
class SimRun {
  readonly random: SeededRandom;
  readonly profile: SimProfile;
  readonly trace: SimTrace;
  private readonly invariants: Invariants;
  private readonly network: SimNetwork;
  private readonly cluster: SimCluster;
  private readonly clients: ClientModel;
  private readonly faults: FaultInjector;
  private clock = 0;
  /** Per node: the incarnation and index up to which its commit index has been checked. */
  private readonly commitChecked = new Map<number, { incarnation: number; upTo: number }>();
  private healSteps = 0;
  private snapshotsInstalled = 0;

  constructor(readonly seed: number, options: RunOptions) {
    this.random = new SeededRandom(seed);
    this.invariants = new Invariants(options.contractChecks ?? true);
    this.profile = drawProfile(this.random);
    this.trace = new SimTrace(options.echo ?? null);
    const p = this.profile;
    const bugs = new Set(options.bugs ?? []);
    this.network = new SimNetwork(this.random, { ...p.network });
    const makeConfig = (id: number): RaftConfig => ({
      id, electionTick: p.electionTick, heartbeatTick: p.heartbeatTick, preVote: p.preVote, checkQuorum: p.checkQuorum,
      maxSizePerMsgBytes: p.maxSizePerMsgBytes, maxInflightMsgs: p.maxInflightMsgs,
      // Each node's election timeouts come from its own stream, itself drawn from the seed.
      random: new SeededRandom(this.random.u32()),
      ...(bugs.size > 0 ? { testBugs: bugs } : {}),
    });
    const traceNow = (text: string): void => this.trace.add(this.cluster.now, text);
    this.cluster = new SimCluster(this.random, this.network, makeConfig, this.observer(), {
      trace: traceNow,
      crashed: (node) => this.clients.onCrash(node),
    }, p.tickSteps, p.appsBeforeWrite);
    this.clients = new ClientModel({
      random: this.random,
      stamp: () => ++this.clock,
      pickNode: () => this.pickNode(),
      trace: traceNow,
    }, p.clients, p.clientOpRate, p.opTimeoutSteps);
    this.faults = new FaultInjector(this.random, this.cluster, p, traceNow);
  }

  private observer(): NodeObserver {
    return {
      invariants: this.invariants,
      send: (from, m) => {
        this.network.send(m, this.cluster.now);
        this.faults.onSend(from, m);
      },
      leaderElected: (node, term) => this.trace.add(this.cluster.now, `n${node.id} leads term ${term}`),
      applied: (node, e) => this.clients.onApplied(node, e),
      restored: (node, s) => {
        this.snapshotsInstalled++;
        this.trace.add(this.cluster.now, `n${node.id} installs snapshot at ${s.index} term ${s.term}`);
        this.clients.onRestored(node, s);
      },
      readServed: (node, context) => this.clients.onReadServed(node, context),
      statusSeen: (_node, st) => this.cluster.noteStatus(st),
      crashBeforeWrite: () => this.faults.crashBeforeWrite(),
    };
  }

  /** Clients mostly talk to the node they believe leads, sometimes to any node that is up. */
  private pickNode(): SimNode | null {
    const leader = this.cluster.leader();
    if (leader !== null && this.random.chance(0.6)) return leader;
    const alive = this.cluster.alive();
    return alive.length === 0 ? null : this.random.pick(alive);
  }

  /** The fault phase, then the healing phase, then the history check. */
  run(faultSteps: number): void {
    const p = this.profile;
    this.trace.add(0, `seed ${this.seed}: ${describeProfile(p)}`);
    this.cluster.bootstrap(p.founders);
    let step = 0;
    for (; step < faultSteps; step++) this.step(step, true);
    this.heal(step);
    this.clients.finish();
    const verdict = checkLinearizable(this.clients.history);
    if (!verdict.ok) violation(`client history is not linearizable on key ${verdict.key}:\n${verdict.explanation}`);
  }

  /** One step of simulated time: faults, restarts, delivery, ticks, clients, Ready loops, checks. */
  private step(step: number, issuing: boolean): void {
    this.cluster.now = step;
    this.faults.step();
    this.cluster.runScheduled();
    this.cluster.deliver();
    this.cluster.tick();
    this.clients.step(step, issuing);
    this.cluster.processAll(() => this.faults.downSteps());
    this.checkCommits();
  }

  /** Committed entries are never lost: every node's commit index is checked as it moves. */
  private checkCommits(): void {
    for (const node of this.cluster.nodes.values()) {
      const raw = node.raw;
      if (raw === null) continue;
      const st = raw.status();
      const seen = this.commitChecked.get(node.id);
      let from = seen !== undefined && seen.incarnation === node.incarnation ? seen.upTo + 1 : 1;
      if (from > st.commit) continue;
      const log = raw.log();
      const snap = raw.snapshot();
      from = Math.max(from, snap?.index ?? 1);
      let oldTerm = false;
      for (let i = from; i <= st.commit; i++) {
        const term = i === snap?.index ? snap.term : log.length > 0 && i >= log[0].index ? log[i - log[0].index]?.term : undefined;
        if (term === undefined) continue;
        this.invariants.committed(node.id, i, term);
        oldTerm ||= term < st.term;
      }
      if (oldTerm && st.role === 'leader' && seen?.incarnation === node.incarnation) this.faults.onOldTermCommitted(node);
      this.commitChecked.set(node.id, { incarnation: node.incarnation, upTo: st.commit });
    }
  }

  /**
   * The healing phase: partitions gone, the network reliable, every crashed node back. The
   * cluster must then elect a leader, commit a new entry and bring every member up to it.
   */
  private heal(start: number): void {
    this.faults.active = false;
    this.network.heal();
    this.network.faults = { ...this.network.faults, dropRate: 0, duplicateRate: 0, longDelayRate: 0 };
    this.cluster.restartAll();
    this.trace.add(start, 'heal: partitions gone, network reliable, every node up');
    let marker: { node: SimNode; index: number; term: number } | null = null;
    const bound = start + HEAL_STEPS_MAX;
    for (let step = start; step < bound; step++) {
      this.step(step, true);
      this.healSteps++;
      const leader = this.cluster.leader();
      if (marker === null || marker.node.raw === null || marker.node.role !== 'leader' || marker.node.term !== marker.term) {
        marker = leader === null ? null : this.proposeMarker(leader);
        continue;
      }
      const e = this.invariants.appliedAt(marker.index);
      if (e === undefined || e.term !== marker.term) continue;
      if (this.caughtUp(marker.node, marker.index)) {
        this.trace.add(step, `healed: marker at index ${marker.index} term ${marker.term} applied by every member`);
        this.checkStateMachinesAgree();
        return;
      }
    }
    const leader = this.cluster.leader();
    violation(`no progress within ${HEAL_STEPS_MAX} steps of healing (leader: ${leader === null ? 'none' : `n${leader.id} term ${leader.term}`}; ` +
      `marker: ${marker === null ? 'none' : `index ${marker.index} term ${marker.term}`}; ${this.describeNodes()})`);
  }

  private proposeMarker(leader: SimNode): { node: SimNode; index: number; term: number } | null {
    try {
      const at = leader.core().propose(new Uint8Array(0));
      this.trace.add(this.cluster.now, `heal: n${leader.id} proposes a marker at index ${at.index} term ${at.term}`);
      return { node: leader, ...at };
    } catch (err) {
      if (ShoalError.is(err)) return null; // a transfer under way: try again next step
      throw err;
    }
  }

  /** Every member of the leader's configuration has applied `index`. */
  private caughtUp(leader: SimNode, index: number): boolean {
    for (const id of members(leader.core().status().confState)) {
      const node = this.cluster.nodes.get(id);
      if (node === undefined) violation(`n${id} is a member of n${leader.id}'s configuration but was shut down`);
      if (!node.alive || node.applied < index) return false;
    }
    return true;
  }

  /** Nodes that applied the same index hold the same state machine (§5.4.3, end to end). */
  private checkStateMachinesAgree(): void {
    const byIndex = new Map<number, { id: number; image: string }>();
    for (const node of this.cluster.alive()) {
      const image = kvImage(node.kv);
      const other = byIndex.get(node.applied);
      if (other === undefined) byIndex.set(node.applied, { id: node.id, image });
      else if (other.image !== image) violation(`n${node.id} and n${other.id} applied up to ${node.applied} but hold different state`);
    }
  }

  private describeNodes(): string {
    return [...this.cluster.nodes.values()].map((n) => {
      if (n.raw === null) return `n${n.id} down`;
      const st = n.raw.status();
      return `n${n.id} ${st.role} t${st.term} c${st.commit} a${st.applied} last${st.lastIndex}`;
    }).join(', ');
  }

  stats(): Record<string, number> {
    return {
      ...this.cluster.stats, ...this.faults.stats, ...this.clients.stats,
      messagesSent: this.network.sent, messagesDropped: this.network.dropped, messagesDuplicated: this.network.duplicated,
      snapshotsInstalled: this.snapshotsInstalled,
      leadersElected: this.invariants.leadersElected, maxTerm: this.invariants.maxTerm,
      entriesApplied: this.invariants.appliedCount(), historyOps: this.clients.history.length, healSteps: this.healSteps,
    };
  }
}
