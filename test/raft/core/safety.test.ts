// Safety (Raft paper §5.4 and Figure 3): the election restriction, commitment only by counting
// replicas of current-term entries (Figure 8), and the invariants of Figure 3 under random faults.
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/raft/core/errors';
import type { Entry, NodeId, PersistedState, RaftBug } from '../../../src/raft/core/types';
import { SeededRandom } from '../../../src/types/random';
import { Network, msg, persistedWithLog, started } from './harness';

/** Entries applied anywhere, by index: every node must apply the same entry at each index (§5.4.3). */
class AppliedLedger {
  private readonly byIndex = new Map<number, { term: number; by: NodeId }>();

  /** Records what each node applied since the last call; returns the first disagreement, or null. */
  check(net: Network, seen: Map<NodeId, number>): string | null {
    for (const id of net.nodes.keys()) {
      const applied = net.machine(id).applied;
      for (const e of applied.slice(seen.get(id) ?? 0)) {
        const prior = this.byIndex.get(e.index);
        if (prior === undefined) this.byIndex.set(e.index, { term: e.term, by: id });
        else if (prior.term !== e.term) return `node ${id} applied (${e.index}, t${e.term}) but node ${prior.by} applied t${prior.term}`;
      }
      seen.set(id, applied.length);
    }
    return null;
  }

  /** The applied entries, for checking that a leader holds every one (Leader Completeness). */
  entries(): [number, number][] {
    return [...this.byIndex].map(([i, { term }]) => [i, term]);
  }
}

/**
 * The paper's Figure 8, state (c): S1 (term 2 leader, crashed) holds (2, t2) with S2; S5 holds
 * (2, t3) from its term-3 leadership; S3 and S4 voted in term 3. S1 is elected for term 4 and
 * replicates (2, t2) to a majority, but its own term-4 entry reaches no one. Then S5 is elected
 * and overwrites index 2. A correct leader never committed (2, t2), so no node applied it.
 */
function figure8(bugs: readonly RaftBug[]): Network {
  const v = [1, 2, 3, 4, 5];
  const states = new Map<NodeId, PersistedState>([
    [1, persistedWithLog(v, [2], { term: 2 })],
    [2, persistedWithLog(v, [2], { term: 2 })],
    [3, persistedWithLog(v, [], { term: 3, vote: 5 })],
    [4, persistedWithLog(v, [], { term: 3, vote: 5 })],
    [5, persistedWithLog(v, [3], { term: 3, vote: 5 })],
  ]);
  // One entry per append; no leases (no check quorum, no pre-vote): the scenario is about the commit rule alone.
  const net = started(5, { maxSizePerMsgBytes: 1, checkQuorum: false, preVote: false, testBugs: new Set(bugs) }, states);
  net.isolate(5);
  // Entries from index 3 on (S1's term-4 entry) reach nobody who already has index 2.
  net.drop((m) => m.type === 'app' && m.entries.some((e) => e.index >= 3) && net.node(m.to).status().lastIndex >= 2);
  // S3 and S4 voted for S5 in term 3, so S1 needs a second round to win term 4.
  for (let i = 0; i < 3 && net.node(1).status().role !== 'leader'; i++) net.elect(1);
  assert.equal(net.node(1).status().role, 'leader');
  assert.equal(net.node(1).status().term, 4);
  const holders = [1, 2, 3, 4].filter((id) => net.node(id).log().some((e) => e.index === 2 && e.term === 2));
  assert.ok(holders.length >= 3, `(2, t2) should be on a majority, is on ${holders.join(',')}`);
  net.heal();
  net.isolate(1);
  for (let i = 0; i < 3 && net.node(5).status().role !== 'leader'; i++) net.elect(5);
  assert.equal(net.node(5).status().role, 'leader');
  net.tick(5, 3);
  return net;
}

describe('Raft core: safety (§5.4, Figure 8)', () => {
  it('§5.4.2 a leader never commits an entry from a previous term by counting replicas (Figure 8)', () => {
    const net = leaderWithOldEntry([]);
    assert.equal(net.node(1).status().commit, 1, 'committed before any replica');
    net.stepInto(1, msg({ type: 'appResp', from: 2, to: 1, term: 3, index: 2 }));
    assert.equal(net.node(1).status().commit, 1, 'committed the term-2 entry by counting its replicas');
    assert.deepEqual(net.appliedData(1), []);
    net.stepInto(1, msg({ type: 'appResp', from: 2, to: 1, term: 3, index: 3 }));
    assert.equal(net.node(1).status().commit, 3, 'a replicated current-term entry commits it and all before it');
    assert.deepEqual(net.appliedData(1), ['e2t2']);
  });

  it('§5.4.2 the Figure 8 check is not vacuous: with the deliberate bug commitOldTermByCount it commits', () => {
    const net = leaderWithOldEntry(['commitOldTermByCount']);
    net.stepInto(1, msg({ type: 'appResp', from: 2, to: 1, term: 3, index: 2 }));
    assert.equal(net.node(1).status().commit, 2);
  });

  it('§5.4.2 Figure 8: an old-term entry on a majority can be overwritten, so no node applies it', () => {
    const net = figure8([]);
    const ledger = new AppliedLedger();
    assert.equal(ledger.check(net, new Map()), null);
    for (const id of [2, 3, 4, 5]) {
      const e2 = net.node(id).log().find((e) => e.index === 2);
      assert.equal(e2?.term, 3, `node ${id}: index 2 should now hold S5's term-3 entry`);
    }
    assert.ok(!net.machine(1).applied.some((e) => e.index === 2), 'S1 applied (2, t2)');
  });

  it('§5.4.2 Figure 8 is not vacuous: with commitOldTermByCount two nodes apply different entries at index 2', () => {
    let violation: string | null = null;
    try {
      const net = figure8(['commitOldTermByCount']);
      violation = new AppliedLedger().check(net, new Map());
    } catch (e) {
      violation = `the core stopped on its own assertion: ${(e as Error).message}`;
    }
    assert.ok(violation !== null, 'the scenario did not expose the deliberate bug');
  });

  it('§5.4.1 election restriction: a node missing committed entries cannot become leader', () => {
    const net = started(3, { checkQuorum: false });
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.propose(1, 'b');
    net.heal();
    net.isolate(1);
    const mark = net.sent.length;
    for (let t = 0; t < 60; t++) {
      net.tick(3, 1);
      assert.notEqual(net.node(3).status().role, 'leader', 'a node without the committed entries was elected');
    }
    assert.ok(net.sentSince(mark, (m) => m.from === 3 && (m.type === 'preVote' || m.type === 'vote')).length > 0);
    net.tickAll(40);
    assert.equal(net.node(2).status().role, 'leader'); // node 1, cut off without check quorum, may still think it leads
    assert.deepEqual(net.node(2).log().filter((e) => e.data.length > 0 && e.type === 'normal').map((e) => new TextDecoder().decode(e.data)), ['a', 'b']);
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`Figure 3 invariants hold under random partitions, restarts and proposals (seed ${seed})`, () => {
      randomRun(seed);
    });
  }
});

/** A three-node cluster whose node 1 holds (2, t2) alone and leads term 3 with its entry (3, t3) unreplicated. */
function leaderWithOldEntry(bugs: readonly RaftBug[]): Network {
  const states = new Map<NodeId, PersistedState>([
    [1, persistedWithLog([1, 2, 3], [2], { term: 2 })],
    [2, persistedWithLog([1, 2, 3], [], { term: 2 })],
    [3, persistedWithLog([1, 2, 3], [], { term: 2 })],
  ]);
  const net = started(3, { testBugs: new Set(bugs) }, states);
  net.drop((m) => m.type === 'app' || m.type === 'appResp');
  net.elect(1);
  assert.equal(net.node(1).status().role, 'leader');
  assert.equal(net.node(1).status().term, 3);
  assert.deepEqual(net.node(1).log().map((e) => e.term), [1, 2, 3]);
  return net;
}

/** Drives a five-node cluster through random faults and checks Figure 3's invariants after every step. */
function randomRun(seed: number): void {
  const rnd = new SeededRandom(seed * 104729);
  const net = started(5);
  const ledger = new AppliedLedger();
  const seen = new Map<NodeId, number>();
  const leaderOfTerm = new Map<number, NodeId>();
  let proposed = 0;
  for (let step = 0; step < 400; step++) {
    const r = rnd.int(100);
    const id = 1 + rnd.int(5);
    if (r < 6) {
      net.heal();
      net.isolate(id);
      if (rnd.chance(0.3)) net.isolate(1 + rnd.int(5));
    } else if (r < 10) {
      net.heal();
    } else if (r < 13) {
      net.restart(id);
      seen.set(id, 0);
    } else if (r < 40) {
      const leader = net.leaders().at(-1);
      if (leader !== undefined) {
        try {
          net.propose(leader.id, `s${seed}-${proposed++}`);
        } catch (e) {
          if (!(e instanceof ProposalDroppedError)) throw e;
        }
      }
    } else {
      net.tickAll(1);
    }
    checkInvariants(net, ledger, seen, leaderOfTerm, `seed ${seed} step ${step}`);
  }
  net.heal();
  net.tickAll(60);
  checkInvariants(net, ledger, seen, leaderOfTerm, `seed ${seed} after healing`);
  assert.ok(ledger.entries().length > 10, `seed ${seed}: only ${ledger.entries().length} entries committed, the run proves little`);
}

function checkInvariants(
  net: Network, ledger: AppliedLedger, seen: Map<NodeId, number>, leaderOfTerm: Map<number, NodeId>, where: string,
): void {
  // Election Safety: at most one leader per term.
  for (const { id, term } of net.leaders()) {
    const prior = leaderOfTerm.get(term);
    assert.ok(prior === undefined || prior === id, `${where}: nodes ${prior} and ${id} both led term ${term}`);
    leaderOfTerm.set(term, id);
  }
  // State Machine Safety: no two nodes apply different entries at one index.
  const bad = ledger.check(net, seen);
  assert.equal(bad, null, `${where}: ${bad}`);
  // Leader Completeness: a leader of the newest term holds every applied entry it has not compacted.
  // (A deposed leader cut off in an older term may lack entries committed since; that is allowed.)
  const newest = Math.max(...[...net.nodes.values()].map((n) => n.status().term));
  for (const { id } of net.leaders().filter((l) => l.term === newest)) {
    const log = new Map(net.node(id).log().map((e): [number, Entry] => [e.index, e]));
    for (const [index, term] of ledger.entries()) {
      const e = log.get(index);
      if (e !== undefined) assert.equal(e.term, term, `${where}: leader ${id} holds (${index}, t${e.term}), t${term} was applied`);
      else assert.ok(index < net.node(id).status().firstIndex, `${where}: leader ${id} lacks applied entry ${index}`);
    }
  }
  // Log Matching: two logs with an entry of the same index and term agree on everything before it.
  const logs = [...net.nodes.values()].map((n) => n.log());
  for (let a = 0; a < logs.length; a++) {
    for (let b = a + 1; b < logs.length; b++) assertLogsMatch(logs[a], logs[b], where);
  }
}

function assertLogsMatch(x: readonly Entry[], y: readonly Entry[], where: string): void {
  const yByIndex = new Map(y.map((e): [number, Entry] => [e.index, e]));
  let agreeFrom = -1;
  for (let i = x.length - 1; i >= 0; i--) {
    const other = yByIndex.get(x[i].index);
    if (other !== undefined && other.term === x[i].term) {
      agreeFrom = i;
      break;
    }
  }
  for (let i = 0; i < agreeFrom; i++) {
    const other = yByIndex.get(x[i].index);
    if (other !== undefined) assert.equal(other.term, x[i].term, `${where}: logs agree at a later index but differ at ${x[i].index}`);
  }
}
