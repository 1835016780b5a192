// Linearizable reads with ReadIndex (Raft thesis §6.4): a read is served at an index the leader
// proved current by hearing from a quorum, never from a leader that may have been deposed.
import assert from 'node:assert/strict';
import type { RaftBug } from '../../../src/raft/core/types';
import { Network, started } from './harness';

const readOf = (net: Network, id: number, context: string) => net.readStates.get(id)!.find((r) => r.context === context);

/**
 * Three nodes without check quorum; node 1 led, wrote 'a', was cut off with a read pending; node 2
 * then led and wrote 'b'. Pre-vote is off too: with it, node 3 (which heard node 1 a moment ago)
 * would rightly refuse node 2's pre-vote (thesis §9.6), and node 1 would never be deposed.
 */
function deposedLeaderScenario(bugs: readonly RaftBug[]): { net: Network; bIndex: number } {
  const net = started(3, { checkQuorum: false, preVote: false, testBugs: new Set(bugs) });
  net.elect(1);
  net.propose(1, 'a');
  net.isolate(1);
  net.node(1).readIndex('stale');
  net.deliverAll();
  net.elect(2);
  const b = net.propose(2, 'b');
  net.tick(2, 2);
  assert.ok(net.node(2).status().commit >= b.index, 'the new leader could not commit');
  return { net, bIndex: b.index };
}

describe('Raft core: linearizable reads with ReadIndex (thesis §6.4)', () => {
  it('§6.4 ReadIndex: the leader answers with its commit index only after a quorum confirmed its leadership', () => {
    const net = started(3);
    net.elect(1);
    const a = net.propose(1, 'a');
    const commit = net.node(1).status().commit;
    assert.ok(commit >= a.index);
    net.node(1).readIndex('r1');
    const held = net.drain(1);
    assert.equal(readOf(net, 1, 'r1'), undefined, 'answered before hearing from a quorum');
    assert.ok(held.some((m) => m.type === 'heartbeat' && m.context === 'r1'), 'leadership is confirmed by a heartbeat round');
    net.queue.push(...held);
    net.deliverAll();
    assert.deepEqual(readOf(net, 1, 'r1'), { index: commit, context: 'r1' });
  });

  it('§6.4 ReadIndex: with a single voter the read is answered at once', () => {
    const net = started(1);
    net.elect(1);
    const a = net.propose(1, 'a');
    net.node(1).readIndex('solo');
    net.drain(1);
    const r = readOf(net, 1, 'solo');
    assert.ok(r, 'a single voter must answer without any message');
    assert.ok(r.index >= a.index);
  });

  it('§6.4 ReadIndex: a new leader answers only once an entry of its own term has committed', () => {
    const net = started(3);
    net.drop((m) => m.type === 'appResp');
    net.elect(1);
    const st = net.node(1).status();
    assert.equal(st.role, 'leader');
    net.node(1).readIndex('early');
    net.tick(1, 2);
    assert.equal(readOf(net, 1, 'early'), undefined, 'answered from a commit index the previous leader may have passed');
    net.heal();
    net.tick(1, 2);
    const r = readOf(net, 1, 'early');
    assert.ok(r, 'the read was lost once the leader committed');
    assert.ok(r.index >= st.lastIndex, `read index ${r.index} is below the new leader's first entry ${st.lastIndex}`);
  });

  it('§6.4 ReadIndex: a follower forwards the read and gets an index covering every write acknowledged before it', () => {
    const net = started(3);
    net.elect(1);
    let last = 0;
    for (const d of ['a', 'b', 'c']) last = net.propose(1, d).index;
    net.node(3).readIndex('via-follower');
    net.deliverAll();
    assert.ok(net.sent.some((m) => m.type === 'readIndex' && m.from === 3 && m.to === 1));
    const r = readOf(net, 3, 'via-follower');
    assert.ok(r, 'the follower got no read state');
    assert.ok(r.index >= last, `read index ${r.index} is before the acknowledged write at ${last}`);
    net.tickAll(2);
    assert.ok(net.machine(3).appliedIndex >= r.index, 'the follower never applied up to its read index');
  });

  it('§6.4 ReadIndex: reads are answered in order with their own contexts', () => {
    const net = started(3);
    net.elect(1);
    for (const c of ['r1', 'r2', 'r3']) net.node(1).readIndex(c);
    net.deliverAll();
    assert.deepEqual(net.readStates.get(1)!.map((r) => r.context), ['r1', 'r2', 'r3']);
  });

  it('§6.4 ReadIndex: a deposed leader cannot answer a read', () => {
    const { net, bIndex } = deposedLeaderScenario([]);
    net.tick(1, 5);
    assert.equal(readOf(net, 1, 'stale'), undefined, 'a leader cut off from its quorum answered a read');
    net.heal();
    net.tickAll(3);
    const r = readOf(net, 1, 'stale');
    assert.ok(r === undefined || r.index >= bIndex, `answered at ${r?.index}, missing the write at ${bIndex}`);
  });

  it('§6.4 ReadIndex: the deposed-leader check is not vacuous (the deliberate bug readWithoutQuorum answers stale)', () => {
    const { net, bIndex } = deposedLeaderScenario(['readWithoutQuorum']);
    const r = readOf(net, 1, 'stale');
    assert.ok(r !== undefined && r.index < bIndex);
  });
});
