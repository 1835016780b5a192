// Log replication (Raft paper §5.3), the Ready contract for entries, and per-follower flow control.
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/raft/core/errors';
import type { Message } from '../../../src/raft/core/types';
import { Network, bytes, msg, persistedWithLog, started, terms } from './harness';

const isApp = (to: number) => (m: Message): boolean => m.type === 'app' && m.to === to;
const entryBytes = (m: Message): number => m.entries.reduce((n, e) => n + e.data.length, 0);

/** Checks, Ready by Ready, that node `id` never acknowledged or applied an entry it had not persisted. */
function assertAcksFollowWrites(net: Network, id: number, bootstrapLast: number): void {
  let persistedLast = bootstrapLast;
  let acks = 0;
  for (const rd of net.readies.get(id)!) {
    if (rd.snapshot) persistedLast = Math.max(persistedLast, rd.snapshot.index);
    if (rd.entries.length > 0) persistedLast = rd.entries.at(-1)!.index;
    for (const m of rd.messages) {
      if (m.type !== 'appResp' || m.reject) continue;
      acks++;
      assert.ok(m.index <= persistedLast, `node ${id} acknowledged index ${m.index} with only ${persistedLast} persisted`);
    }
    for (const e of rd.committedEntries) assert.ok(e.index <= persistedLast, `node ${id} applied ${e.index} before persisting it`);
  }
  assert.ok(acks > 0, 'the scenario produced no acknowledgement to check');
}

describe('Raft core: log replication and flow control (§5.3)', () => {
  it('§5.3 a leader replicates proposals and, once a majority stored them, every node applies them in order', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    net.tickAll(1); // the next heartbeat carries the final commit index to the followers
    for (const id of [1, 2, 3]) assert.deepEqual(net.appliedData(id), ['a', 'b', 'c'], `node ${id}`);
    const leaderLog = terms(net.disk(1).entries);
    for (const id of [2, 3]) assert.deepEqual(terms(net.disk(id).entries), leaderLog, `node ${id} persisted a different log`);
  });

  it('§5.3 an entry stored on a minority only is not committed; it is once a majority has it', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(2);
    net.isolate(3);
    const at = net.propose(1, 'x');
    assert.ok(net.node(1).status().commit < at.index, 'committed with only the leader holding the entry');
    assert.deepEqual(net.appliedData(1), []);
    net.heal();
    net.tick(1, 2);
    assert.ok(net.node(1).status().commit >= at.index);
    assert.deepEqual(net.appliedData(1), ['x']);
  });

  it('§5.3 a single-node cluster commits a proposal after one ready/advance round', () => {
    const net = started(1);
    net.elect(1);
    const n = net.node(1);
    assert.equal(n.status().role, 'leader');
    const at = n.propose(bytes('solo'));
    const rd1 = n.ready();
    assert.ok(rd1.entries.some((e) => e.index === at.index), 'the proposal must be handed out for persisting');
    assert.ok(!rd1.committedEntries.some((e) => e.index === at.index), 'committed before the leader persisted it');
    n.advance();
    assert.ok(n.hasReady());
    const rd2 = n.ready();
    assert.ok(rd2.committedEntries.some((e) => e.index === at.index), 'not committed after its entry was persisted');
    n.advance();
  });

  it('§5.1 a proposal on a follower or a candidate is refused and leaves its log unchanged', () => {
    const net = started(3, { preVote: false });
    net.elect(1);
    const before = net.node(2).status().lastIndex;
    assert.throws(() => net.node(2).propose(bytes('nope')), ProposalDroppedError);
    assert.equal(net.node(2).status().lastIndex, before);
    net.isolate(3);
    net.node(3).campaign();
    net.drain(3);
    assert.equal(net.node(3).status().role, 'candidate');
    assert.throws(() => net.node(3).propose(bytes('nope')), ProposalDroppedError);
  });

  it('Ready contract: entries are persisted before (or with) the Ready that acknowledges or applies them', () => {
    const net = started(3);
    net.elect(1);
    for (const d of ['a', 'b', 'c', 'd']) net.propose(1, d);
    net.tickAll(1);
    for (const id of [2, 3]) assertAcksFollowWrites(net, id, 1); // entry 1 came with bootstrap()
  });

  it('§5.3 a follower rejects an append whose previous entry it lacks, and hints where its log ends', () => {
    const states = new Map([[2, persistedWithLog([1, 2, 3], [2], { term: 2 })]]);
    const net = started(3, {}, states);
    const out = net.stepInto(2, msg({ type: 'app', from: 1, to: 2, term: 3, logTerm: 3, index: 5, commit: 1 }));
    const resp = out.find((m) => m.type === 'appResp');
    assert.ok(resp);
    assert.equal(resp.reject, true);
    assert.equal(resp.index, 5, 'a rejection names the rejected previous index');
    assert.ok(resp.rejectHint <= 2, `hint ${resp.rejectHint} beyond the follower's last index 2`);
    assert.equal(net.node(2).status().lastIndex, 2);
  });

  it('§5.3 a follower rejects an append whose previous entry has another term, hinting an entry of no higher term', () => {
    const states = new Map([[2, persistedWithLog([1, 2, 3], [2, 2, 2], { term: 2 })]]);
    const net = started(3, {}, states);
    const out = net.stepInto(2, msg({ type: 'app', from: 1, to: 2, term: 3, logTerm: 3, index: 4, commit: 1 }));
    const resp = out.find((m) => m.type === 'appResp')!;
    assert.equal(resp.reject, true);
    assert.ok(resp.rejectHint <= 4);
    const hinted = net.node(2).log().find((e) => e.index === resp.rejectHint);
    assert.equal(resp.rejectLogTerm, hinted?.term ?? 0, 'rejectLogTerm is the term of the follower entry at the hint');
    assert.ok(resp.rejectLogTerm <= 3);
    assert.deepEqual(terms(net.node(2).log()), [1, 2, 2, 2], 'a rejected append changed the log');
  });

  it('§5.3 a follower with a conflicting suffix is repaired with at most one rejection per conflicting term', () => {
    const common = [2];
    const leaderLog = [...common, ...Array<number>(8).fill(6)]; // indexes 3..10 in term 6
    const followerLog = [...common, ...Array<number>(5).fill(3), ...Array<number>(5).fill(4), ...Array<number>(5).fill(5)];
    const states = new Map([
      [1, persistedWithLog([1, 2, 3], leaderLog, { term: 6, commit: 2 })],
      [2, persistedWithLog([1, 2, 3], leaderLog, { term: 6, commit: 2 })],
      [3, persistedWithLog([1, 2, 3], followerLog, { term: 5, commit: 2 })],
    ]);
    const net = started(3, {}, states);
    const mark = net.sent.length;
    net.elect(1);
    net.tick(1, 2);
    assert.equal(net.node(1).status().role, 'leader');
    const rejections = net.sentSince(mark, (m) => m.type === 'appResp' && m.from === 3 && m.reject).length;
    assert.ok(rejections <= 3, `${rejections} rejections for 3 conflicting terms (one-by-one backtracking needs 8)`);
    assert.deepEqual(terms(net.disk(3).entries), terms(net.disk(1).entries), 'the follower was not repaired');
    assert.equal(net.disk(3).entries.length, 11);
  });

  it("§5.3 entries a follower has beyond the leader's log are deleted", () => {
    const states = new Map([
      [1, persistedWithLog([1, 2, 3], [2, 3], { term: 3 })],
      [2, persistedWithLog([1, 2, 3], [2, 2, 2, 2], { term: 2 })],
      [3, persistedWithLog([1, 2, 3], [2], { term: 3 })],
    ]);
    const net = started(3, {}, states);
    net.elect(1);
    net.tick(1, 2);
    assert.equal(net.node(1).status().role, 'leader');
    assert.deepEqual(terms(net.disk(2).entries), [1, 2, 3, 4]);
    assert.equal(net.node(2).status().lastIndex, 4);
  });

  it('§5.3 a follower that was down catches up on every entry it missed', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(3);
    for (const d of ['a', 'b', 'c', 'd', 'e']) net.propose(1, d);
    assert.deepEqual(net.appliedData(3), []);
    net.heal();
    net.tickAll(3);
    assert.deepEqual(net.appliedData(3), ['a', 'b', 'c', 'd', 'e']);
  });

  it('flow control: in the replicate state at most maxInflightMsgs appends are outstanding to a follower', () => {
    const net = started(3, { maxInflightMsgs: 4 });
    net.elect(1);
    net.propose(1, 'warm-up'); // both followers have acknowledged: they are in the replicate state
    const held: Message[] = [];
    for (let i = 0; i < 20; i++) {
      net.node(1).propose(bytes(`p${i}`));
      held.push(...net.drain(1));
    }
    const toTwo = held.filter((m) => isApp(2)(m) && m.entries.length > 0);
    assert.ok(toTwo.length > 0, 'nothing was sent at all');
    assert.ok(toTwo.length <= 4, `${toTwo.length} appends in flight to node 2, more than maxInflightMsgs 4`);
    net.queue.push(...held);
    net.deliverAll();
    net.tickAll(2);
    assert.equal(net.appliedData(2).length, 21, 'replication did not resume once acknowledgements arrived');
  });

  it('flow control: an append never exceeds maxSizePerMsgBytes unless it carries a single entry', () => {
    const net = started(3, { maxSizePerMsgBytes: 1000 });
    net.elect(1);
    net.isolate(3);
    const mark = net.sent.length;
    for (let i = 0; i < 12; i++) net.propose(1, `${i}`.padEnd(300, '.'));
    net.propose(1, 'big'.padEnd(3000, '!'));
    net.heal();
    net.tickAll(5);
    const apps = net.sentSince(mark, (m) => m.type === 'app' && m.entries.length > 0);
    for (const m of apps) {
      assert.ok(m.entries.length === 1 || entryBytes(m) <= 1000, `an append to ${m.to} carried ${m.entries.length} entries, ${entryBytes(m)} bytes`);
    }
    assert.ok(apps.some((m) => m.to === 3 && m.entries.length > 1), 'catch-up never batched entries: the limit is not exercised');
    assert.equal(net.appliedData(3).length, 13);
  });

  it('flow control: in the probe state a leader sends at most one append per heartbeat interval', () => {
    const net = started(3);
    net.drop((m) => m.type === 'app' && m.to === 3); // node 3 hears heartbeats only, so it is never acknowledged
    net.elect(1);
    let mark = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose(1, `p${i}`);
    assert.ok(net.sentSince(mark, isApp(3)).length <= 1, 'a probed follower got an append per proposal');
    let total = 0;
    for (let beat = 0; beat < 5; beat++) {
      mark = net.sent.length;
      net.tick(1, 1);
      const n = net.sentSince(mark, isApp(3)).length;
      assert.ok(n <= 1, `${n} appends to a probed follower in one heartbeat interval`);
      total += n;
    }
    assert.ok(total >= 1, 'the leader stopped probing altogether');
  });
});
