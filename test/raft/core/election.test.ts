// Leader election (Raft paper §5.1, §5.2, §5.4.1), pre-vote (thesis §9.6) and check quorum /
// leader lease (thesis §6.4): each test sets up a state, steps messages or ticks, and checks the
// messages and state that result.
import assert from 'node:assert/strict';
import { RawNode } from '../../../src/raft/core/raw-node';
import type { Message, RaftBug } from '../../../src/raft/core/types';
import { SeededRandom } from '../../../src/types/random';
import { Network, entry, msg, persistedWithLog, sorted, started } from './harness';

const isVote = (m: Message): boolean => m.type === 'vote' || m.type === 'preVote';

/** A three-node cluster whose node 3 has the log [1:t1, 2:t2, 3:t2] at term 2 and knows no leader. */
function voterWithLog(bugs?: ReadonlySet<RaftBug>): Network {
  const states = new Map([[3, persistedWithLog([1, 2, 3], [2, 2], { term: 2 })]]);
  return started(3, { preVote: false, ...(bugs ? { testBugs: bugs } : {}) }, states);
}

/** What node `id` answered to a vote request: granted (true), refused (false), or silent (null). */
function voteAnswer(out: readonly Message[], to: number): boolean | null {
  const r = out.find((m) => (m.type === 'voteResp' || m.type === 'preVoteResp') && m.to === to);
  return r === undefined ? null : !r.reject;
}

describe('Raft core: leader election (§5.1, §5.2, §9.6, §6.4)', () => {
  it('§5.2 a follower that hears no leader for an election timeout becomes a candidate and asks every voter for its vote', () => {
    const net = started(3, { preVote: false });
    const { out } = net.tickUntil(1, (o) => o.some(isVote), 20);
    const votes = out.filter((m) => m.type === 'vote');
    assert.deepEqual(sorted(votes.map((m) => m.to)), [2, 3]);
    for (const v of votes) {
      assert.equal(v.term, 2, 'a candidate increments its term');
      assert.equal(v.logTerm, 1, 'vote carries the last log term');
      assert.equal(v.index, 1, 'vote carries the last log index');
    }
    const st = net.node(1).status();
    assert.equal(st.role, 'candidate');
    assert.equal(st.term, 2);
    assert.equal(st.vote, 1, 'a candidate votes for itself');
    assert.equal(net.disk(1).hardState.vote, 1, 'its own vote is persisted');
    assert.equal(net.disk(1).hardState.term, 2);
  });

  it('§5.2 election timeouts are randomized in [electionTick, 2*electionTick)', () => {
    const net = started(3);
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      net.start(1, RawNode.bootstrap([1, 2, 3]), { random: new SeededRandom(seed * 7919) });
      net.drain(1);
      const { ticks } = net.tickUntil(1, (o) => o.some(isVote), 40);
      assert.ok(ticks >= 10 && ticks <= 20, `seed ${seed}: campaigned after ${ticks} ticks, outside [10, 20]`);
      seen.add(ticks);
    }
    assert.ok(seen.size >= 4, `timeouts are not randomized: only ${[...seen].join(', ')}`);
  });

  it('§5.2 a candidate that wins a majority becomes leader and the others follow it', () => {
    const net = started(3);
    net.elect(1);
    const st1 = net.node(1).status();
    assert.equal(st1.role, 'leader');
    assert.equal(st1.term, 2);
    for (const id of [2, 3]) {
      const st = net.node(id).status();
      assert.equal(st.role, 'follower');
      assert.equal(st.leader, 1);
      assert.equal(st.term, 2);
    }
    assert.deepEqual(net.leaders(), [{ id: 1, term: 2 }]);
  });

  it('§5.2 each server votes for at most one candidate in a term, first come first served', () => {
    const net = started(3, { preVote: false });
    const first = net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 2, logTerm: 1, index: 1 }));
    assert.equal(voteAnswer(first, 1), true);
    const second = net.stepInto(3, msg({ type: 'vote', from: 2, to: 3, term: 2, logTerm: 1, index: 1 }));
    assert.notEqual(voteAnswer(second, 2), true, 'a second candidate of the same term got a vote');
    assert.equal(net.node(3).status().vote, 1);
  });

  it('§5.2 a vote survives a restart: the node still refuses another candidate of that term', () => {
    const net = started(3, { preVote: false });
    net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 2, logTerm: 1, index: 1 }));
    net.restart(3);
    net.drain(3);
    const st = net.node(3).status();
    assert.equal(st.term, 2);
    assert.equal(st.vote, 1);
    const out = net.stepInto(3, msg({ type: 'vote', from: 2, to: 3, term: 2, logTerm: 1, index: 1 }));
    assert.notEqual(voteAnswer(out, 2), true, 'voted twice in term 2 across a restart');
  });

  it('Ready contract: the hard state recording a vote is in the same Ready as the voteResp granting it', () => {
    const net = started(3, { preVote: false });
    net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 2, logTerm: 1, index: 1 }));
    const rd = net.readies.get(3)!.find((r) => r.messages.some((m) => m.type === 'voteResp' && !m.reject));
    assert.ok(rd, 'no Ready granted the vote');
    assert.ok(rd.hardState, 'the Ready granting a vote must carry the hard state to persist');
    assert.equal(rd.hardState.term, 2);
    assert.equal(rd.hardState.vote, 1);
    assert.equal(rd.mustSync, true);
  });

  it('§5.2 a candidate that hears from a leader of its own term returns to follower', () => {
    const net = started(3, { preVote: false });
    net.node(1).campaign();
    net.drain(1);
    assert.equal(net.node(1).status().role, 'candidate');
    net.stepInto(1, msg({ type: 'app', from: 2, to: 1, term: 2, logTerm: 1, index: 1, commit: 1 }));
    const st = net.node(1).status();
    assert.equal(st.role, 'follower');
    assert.equal(st.leader, 2);
    assert.equal(st.term, 2);
  });

  it('§5.1 a leader that sees a higher term adopts it and steps down', () => {
    const net = started(3);
    net.elect(1);
    const last = net.node(1).status().lastIndex;
    const lastTerm = net.node(1).log().at(-1)!.term;
    net.stepInto(1, msg({ type: 'app', from: 2, to: 1, term: 5, logTerm: lastTerm, index: last, commit: 1 }));
    const st = net.node(1).status();
    assert.equal(st.role, 'follower');
    assert.equal(st.term, 5);
    assert.equal(st.leader, 2);
    assert.equal(net.disk(1).hardState.term, 5, 'the new term is persisted');
  });

  it('§5.1 a message from a stale term is rejected and changes nothing', () => {
    const net = started(3);
    net.elect(1);
    const before = net.node(2).status();
    const logBefore = net.node(2).log().map((e) => [e.index, e.term]);
    const out = net.stepInto(2, msg({ type: 'app', from: 3, to: 2, term: 1, logTerm: 1, index: 1, entries: [entry(2, 1)], commit: 2 }));
    const after = net.node(2).status();
    assert.equal(after.term, before.term);
    assert.equal(after.leader, 1);
    assert.deepEqual(net.node(2).log().map((e) => [e.index, e.term]), logBefore);
    for (const m of out) assert.ok(m.term >= before.term, `answered a stale leader with term ${m.term}`);
    assert.ok(!out.some((m) => m.type === 'appResp' && m.term <= 1), 'acknowledged a stale append at its own term');
  });

  it('§5.2 a candidate that neither wins nor loses starts a new election with a higher term', () => {
    const net = started(3, { preVote: false });
    net.isolate(1);
    net.tickUntil(1, (o) => o.some((m) => m.type === 'vote' && m.term === 2), 20);
    const { out } = net.tickUntil(1, (o) => o.some((m) => m.type === 'vote'), 20);
    assert.ok(out.every((m) => m.type !== 'vote' || m.term === 3), 'the second election must use term 3');
    assert.equal(net.node(1).status().term, 3);
    assert.equal(net.node(1).status().role, 'candidate');
  });

  it('§5.4.1 a voter refuses a candidate whose last log term is lower', () => {
    const net = voterWithLog();
    const out = net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 3, logTerm: 1, index: 9 }));
    assert.equal(voteAnswer(out, 1), false);
    assert.equal(net.node(3).status().vote, 0);
  });

  it('§5.4.1 a voter refuses a candidate with the same last term but a shorter log', () => {
    const net = voterWithLog();
    const out = net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 3, logTerm: 2, index: 2 }));
    assert.equal(voteAnswer(out, 1), false);
  });

  it('§5.4.1 a voter grants a candidate whose log is at least as up to date', () => {
    for (const [logTerm, index] of [[2, 3], [2, 7], [3, 2]]) {
      const net = voterWithLog();
      const out = net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 3, logTerm, index }));
      assert.equal(voteAnswer(out, 1), true, `refused a candidate with last entry (${index}, t${logTerm})`);
      assert.equal(net.node(3).status().vote, 1);
    }
  });

  it('§5.4.1 the up-to-date check is what refuses (the deliberate bug skipUpToDateCheck grants)', () => {
    const net = voterWithLog(new Set<RaftBug>(['skipUpToDateCheck']));
    const out = net.stepInto(3, msg({ type: 'vote', from: 1, to: 3, term: 3, logTerm: 1, index: 9 }));
    assert.equal(voteAnswer(out, 1), true);
  });

  it('§9.6 pre-vote: a node whose timeout fires asks for pre-votes at term+1 without raising its own term', () => {
    const net = started(3);
    net.isolate(1);
    const { out } = net.tickUntil(1, (o) => o.some(isVote), 20);
    const pre = out.filter(isVote);
    assert.ok(pre.every((m) => m.type === 'preVote'), 'asked for real votes before winning a pre-vote');
    assert.deepEqual(sorted(pre.map((m) => m.to)), [2, 3]);
    assert.ok(pre.every((m) => m.term === 2), 'a pre-vote names the term the candidate would use');
    const st = net.node(1).status();
    assert.equal(st.role, 'preCandidate');
    assert.equal(st.term, 1);
    assert.equal(net.disk(1).hardState.term, 1, 'a pre-vote must not persist a new term');
  });

  it("§9.6 pre-vote: granting a pre-vote changes neither the voter's term nor its vote", () => {
    const net = started(3);
    const out = net.stepInto(3, msg({ type: 'preVote', from: 1, to: 3, term: 2, logTerm: 1, index: 1 }));
    assert.equal(voteAnswer(out, 1), true);
    const st = net.node(3).status();
    assert.equal(st.term, 1);
    assert.equal(st.vote, 0);
  });

  it('§9.6 pre-vote: a node rejoining after a partition does not raise the term of a healthy cluster', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(3);
    net.tickAll(100);
    assert.equal(net.node(3).status().term, 2, 'an isolated node kept raising its term');
    net.heal();
    net.tickAll(50);
    assert.deepEqual(net.leaders(), [{ id: 1, term: 2 }]);
    assert.equal(net.node(3).status().leader, 1);
  });

  it('§9.6 without pre-vote (and check quorum) a rejoining node does disrupt the leader: the contrast', () => {
    const net = started(3, { preVote: false, checkQuorum: false });
    net.elect(1);
    net.isolate(3);
    net.tickAll(100);
    assert.ok(net.node(3).status().term > 2);
    net.heal();
    net.tickAll(30);
    assert.ok(net.node(1).status().term > 2, 'the rejoining node should have raised the term');
  });

  it('§6.4 (thesis) check quorum: a leader cut off from a quorum steps down after an election timeout', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(1);
    let ticks = 0;
    while (net.node(1).status().role === 'leader' && ticks < 40) {
      net.tick(1, 1);
      ticks++;
    }
    assert.notEqual(net.node(1).status().role, 'leader', 'an isolated leader kept leading');
    assert.ok(ticks <= 20, `stepped down only after ${ticks} ticks (more than two election timeouts)`);
    assert.ok(ticks >= 10, `stepped down after ${ticks} ticks, before an election timeout passed`);
  });

  it('§6.4 (thesis) check quorum: a leader that hears from a quorum keeps leading', () => {
    const net = started(3);
    net.elect(1);
    net.cut(1, 3);
    net.tickAll(60);
    assert.deepEqual(net.leaders(), [{ id: 1, term: 2 }]);
    assert.equal(net.node(2).status().leader, 1);
  });

  it('§6.4 (thesis) leader lease: a follower that heard from its leader within the timeout ignores a vote request', () => {
    const net = started(3);
    net.elect(1);
    net.tickAll(2);
    const out = net.stepInto(2, msg({ type: 'vote', from: 3, to: 2, term: 3, logTerm: 2, index: 100 }));
    assert.notEqual(voteAnswer(out, 3), true);
    const st = net.node(2).status();
    assert.equal(st.term, 2, 'a vote request inside the lease raised the term');
    assert.equal(st.leader, 1);
  });
});
