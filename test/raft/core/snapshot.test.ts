// Log compaction (Raft paper §7) and restart from persisted state (§5.1, Figure 2 "persistent
// state on all servers").
import assert from 'node:assert/strict';
import { RawNode } from '../../../src/raft/core/raw-node';
import type { Snapshot } from '../../../src/raft/core/types';
import { msg, persistedWithLog, sorted, started, terms } from './harness';

const image = (s: Uint8Array | null): string | null => (s === null ? null : new TextDecoder().decode(s));
const cs3 = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

describe('Raft core: log compaction and restart (§7, §5)', () => {
  it('§7 a snapshot at the applied index replaces the prefix of the log it covers', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b', 'c', 'd']) net.propose(1, d);
    const before = net.node(1).status();
    const snap = net.snapshotAndCompact(1, 'image@applied');
    assert.equal(snap.index, before.applied);
    assert.equal(snap.term, net.disk(1).hardState.term === 2 ? 2 : snap.term);
    assert.deepEqual(sorted(snap.confState.voters), [1, 2, 3], 'a snapshot carries the configuration');
    const after = net.node(1).status();
    assert.equal(after.firstIndex, snap.index + 1);
    assert.equal(after.lastIndex, before.lastIndex);
    assert.ok(net.node(1).log().every((e) => e.index > snap.index), 'compacted entries are still in memory');
    assert.deepEqual(net.node(1).snapshot(), snap);
    assert.ok(commitsAfter(net, 'e'), 'the leader stopped working after compacting');
  });

  it('§7 a follower far behind is sent the snapshot and continues from it', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(3);
    for (const d of ['a', 'b', 'c', 'd', 'e']) net.propose(1, d);
    const snap = net.snapshotAndCompact(1, 'abcde');
    const mark = net.sent.length;
    net.heal();
    net.tickAll(3);
    const snaps = net.sentSince(mark, (m) => m.type === 'snap' && m.to === 3);
    assert.ok(snaps.length >= 1, 'no snapshot was sent');
    assert.equal(snaps[0].snapshot?.index, snap.index);
    assert.equal(image(net.machine(3).image), 'abcde', "the follower's state machine was not restored from the snapshot");
    assert.equal(net.node(3).snapshot()?.index, snap.index);
    assert.equal(net.disk(3).snapshot?.index, snap.index, 'the snapshot was not handed out for persisting');
    assert.ok(net.readies.get(3)!.some((rd) => rd.snapshot !== null && rd.mustSync));
    net.propose(1, 'f');
    net.tickAll(2);
    assert.deepEqual(net.appliedData(3), ['f'], 'the follower did not continue after the snapshot');
    assert.deepEqual(terms(net.node(3).log()), terms(net.node(1).log()));
  });

  it('§7 a member added after compaction is brought up by a snapshot carrying the configuration', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b']) net.propose(1, d);
    net.snapshotAndCompact(1, 'ab');
    net.add(4);
    net.changeConf(1, { changes: [{ type: 'addLearner', nodeId: 4 }] });
    net.tickAll(3);
    assert.ok(net.sent.some((m) => m.type === 'snap' && m.to === 4));
    assert.equal(image(net.machine(4).image), 'ab');
    const cs = net.node(4).status().confState;
    assert.deepEqual(sorted(cs.voters), [1, 2, 3]);
    assert.deepEqual(sorted(cs.learners), [4]);
    net.propose(1, 'c');
    net.tickAll(2);
    assert.deepEqual(net.appliedData(4), ['c']);
  });

  it('§7 a follower ignores a snapshot older than what it has committed', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    net.tickAll(1);
    const before = net.node(2).status();
    const stale: Snapshot = { index: 2, term: 2, confState: cs3, data: new TextEncoder().encode('old') };
    const out = net.stepInto(2, msg({ type: 'snap', from: 1, to: 2, term: 2, snapshot: stale }));
    const after = net.node(2).status();
    assert.equal(after.firstIndex, before.firstIndex);
    assert.equal(after.lastIndex, before.lastIndex);
    assert.equal(after.commit, before.commit);
    assert.equal(net.node(2).snapshot(), null);
    assert.equal(net.machine(2).image, null, 'the state machine was rolled back to an old snapshot');
    const resp = out.find((m) => m.type === 'appResp');
    assert.ok(resp && !resp.reject && resp.index >= before.commit, 'the leader is not told how far the follower is');
  });

  it('§7 a snapshot of a prefix the follower already has keeps the entries after it', () => {
    const states = new Map([[2, persistedWithLog([1, 2, 3], [2, 2, 2, 2, 2], { term: 2, commit: 1 })]]);
    const net = started(3, {}, states);
    const snap: Snapshot = { index: 4, term: 2, confState: cs3, data: new TextEncoder().encode('upto4') };
    net.stepInto(2, msg({ type: 'snap', from: 1, to: 2, term: 2, snapshot: snap }));
    const st = net.node(2).status();
    assert.equal(st.lastIndex, 6, 'entries after the snapshot were discarded');
    assert.ok(net.node(2).log().some((e) => e.index === 6 && e.term === 2));
    assert.equal(st.commit, 4, 'what the snapshot covers is committed');
  });

  it('§7 a snapshot that conflicts with the follower\'s log replaces the whole log', () => {
    const states = new Map([[2, persistedWithLog([1, 2, 3], [2, 2, 2], { term: 2, commit: 1 })]]);
    const net = started(3, {}, states);
    const snap: Snapshot = { index: 5, term: 3, confState: cs3, data: new TextEncoder().encode('t3') };
    net.stepInto(2, msg({ type: 'snap', from: 1, to: 2, term: 3, snapshot: snap }));
    const st = net.node(2).status();
    assert.equal(st.firstIndex, 6);
    assert.equal(st.lastIndex, 5);
    assert.equal(st.commit, 5);
    assert.deepEqual(net.node(2).log(), []);
    assert.equal(image(net.machine(2).image), 't3');
    assert.equal(net.disk(2).snapshot?.index, 5);
    assert.deepEqual(net.disk(2).entries, [], 'conflicting entries are still on disk after the snapshot');
  });

  it('§5 a node restarted from its persisted state keeps its term, vote and log, and catches up', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b']) net.propose(1, d);
    net.tickAll(1);
    const before = net.node(2).status();
    const logBefore = net.node(2).log().map((e) => [e.index, e.term]);
    net.restart(2);
    const after = net.node(2).status();
    assert.equal(after.term, before.term);
    assert.equal(after.vote, before.vote);
    assert.equal(after.lastIndex, before.lastIndex);
    assert.deepEqual(net.node(2).log().map((e) => [e.index, e.term]), logBefore);
    assert.ok(after.commit >= 1 && after.commit <= before.commit);
    net.propose(1, 'c');
    net.tickAll(2);
    assert.deepEqual(net.appliedData(2), ['a', 'b', 'c'], 'after restart the node must re-apply from its snapshot (none) and continue');
  });

  it('§7 a node restarted from a snapshot keeps it and the entries after it', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b']) net.propose(1, d);
    net.tickAll(1);
    const snap = net.snapshotAndCompact(2, 'ab');
    net.propose(1, 'c');
    net.tickAll(1);
    const lastBefore = net.node(2).status().lastIndex;
    net.restart(2);
    net.drain(2);
    const st = net.node(2).status();
    assert.equal(st.firstIndex, snap.index + 1);
    assert.equal(st.lastIndex, lastBefore);
    assert.deepEqual(net.node(2).snapshot(), snap);
    assert.deepEqual(net.appliedData(2), ['c'], 'entries after the snapshot are applied, those in it are not re-applied');
    net.propose(1, 'd');
    net.tickAll(2);
    assert.deepEqual(net.appliedData(2), ['c', 'd']);
  });

  it('§5 RawNode.empty() starts with no term, no vote and no log', () => {
    const n = new RawNode({ id: 9, electionTick: 10, heartbeatTick: 1, random: { float: () => 0, int: () => 0 }, preVote: true, checkQuorum: true, maxSizePerMsgBytes: 1 << 20, maxInflightMsgs: 256 }, RawNode.empty());
    const st = n.status();
    assert.equal(st.term, 0);
    assert.equal(st.vote, 0);
    assert.equal(st.lastIndex, 0);
    assert.deepEqual(st.confState.voters, []);
  });
});

/** Proposes on node 1 and says whether it committed and was applied on every node. */
function commitsAfter(net: ReturnType<typeof started>, data: string): boolean {
  net.propose(1, data);
  net.tickAll(2);
  return [1, 2, 3].every((id) => net.appliedData(id).includes(data));
}
