// Leadership transfer (Raft thesis §3.10): the leader brings the target up to date, stops taking
// proposals, and sends it TimeoutNow; the target campaigns at once, past the other voters' lease.
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/raft/core/errors';
import { bytes, started } from './harness';

describe('Raft core: leadership transfer (thesis §3.10)', () => {
  it('§3.10 the leader sends TimeoutNow to an up-to-date target, which wins the next term at once without pre-vote', () => {
    const net = started(3); // pre-vote and check quorum on: a plain campaign by node 2 would be refused
    net.elect(1);
    net.propose(1, 'a');
    const term = net.node(1).status().term;
    const mark = net.sent.length;
    net.node(1).transferLeadership(2);
    const out = net.drain(1);
    assert.deepEqual(out.map((m) => [m.type, m.to]), [['timeoutNow', 2]]);
    net.queue.push(...out);
    net.deliverAll();
    assert.deepEqual(net.leaders(), [{ id: 2, term: term + 1 }]);
    assert.equal(net.sentSince(mark, (m) => m.type === 'preVote').length, 0, 'the target ran a pre-vote instead of campaigning at once');
    assert.equal(net.node(1).status().role, 'follower');
    assert.deepEqual(net.appliedData(2), ['a']);
  });

  it('§3.10 a lagging target is first brought up to date, and only then told to campaign', () => {
    const net = started(3);
    net.elect(1);
    net.drop((m) => m.to === 3 && m.type === 'app');
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    net.heal();
    const last = net.node(1).status().lastIndex;
    net.node(1).transferLeadership(3);
    const first = net.drain(1);
    assert.ok(first.length > 0 && first.every((m) => m.type === 'app' && m.to === 3), 'TimeoutNow sent to a target missing entries');
    net.queue.push(...first);
    net.deliverAll();
    const lead = net.leaders();
    assert.equal(lead.length, 1);
    assert.equal(lead[0].id, 3);
    assert.ok(net.node(3).status().lastIndex > last, 'the new leader starts its term with a new entry after the old log');
    assert.deepEqual(net.appliedData(3), ['a', 'b', 'c']);
  });

  it('§3.10 proposals are refused while a transfer is under way, and taken again once it is abandoned after an election timeout', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'a'); // node 3 lags and cannot be caught up while isolated
    net.node(1).transferLeadership(3);
    net.deliverAll();
    const before = net.node(1).status().lastIndex;
    assert.throws(() => net.node(1).propose(bytes('during')), (e: unknown) => e instanceof ProposalDroppedError && /transferred to node 3/.test(e.message));
    assert.equal(net.node(1).status().lastIndex, before, 'a refused proposal changed the log');
    net.tick(1, 10); // electionTick
    assert.deepEqual(net.leaders().map((l) => l.id), [1], 'node 1 lost leadership although node 2 kept answering');
    const at = net.propose(1, 'after');
    assert.ok(net.node(1).status().commit >= at.index, 'the leader did not take proposals again');
  });

  it('§3.10 a follower asked to transfer forwards the request to its leader', () => {
    const net = started(3);
    net.elect(1);
    const mark = net.sent.length;
    net.node(3).transferLeadership(2);
    net.deliverAll();
    assert.ok(net.sentSince(mark).some((m) => m.type === 'transferLeader' && m.from === 3 && m.to === 1 && m.index === 2));
    assert.deepEqual(net.leaders().map((l) => l.id), [2]);
  });

  it('§3.10 a transfer to the leader itself or to a non-member changes nothing', () => {
    const net = started(3);
    net.elect(1);
    const mark = net.sent.length;
    net.node(1).transferLeadership(1);
    net.node(1).transferLeadership(9);
    net.deliverAll();
    assert.equal(net.sentSince(mark, (m) => m.type === 'timeoutNow').length, 0);
    net.propose(1, 'still leading');
    assert.deepEqual(net.leaders().map((l) => l.id), [1]);
  });
});
