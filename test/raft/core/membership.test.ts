// Membership changes (Raft paper §6; thesis §4.2 single-server changes, §4.3 joint consensus,
// §4.2.1 learners catching up): who votes, who counts toward commit, and who may disrupt whom.
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/raft/core/errors';
import type { ConfChange, ConfState, Entry } from '../../../src/raft/core/types';
import { decodeConfChange, encodeConfChange } from '../../../src/raft/core/conf-change';
import { RawNode } from '../../../src/raft/core/raw-node';
import { SeededRandom } from '../../../src/types/random';
import { Network, sorted, started } from './harness';

/** The voters and learners of a configuration, sorted, for comparisons. */
function members(cs: ConfState): { voters: number[]; learners: number[]; outgoing: number[] } {
  return { voters: sorted(cs.voters), learners: sorted(cs.learners), outgoing: sorted(cs.votersOutgoing) };
}

/** A three-voter cluster led by node 1 with one applied write, plus node 4 started empty. */
function clusterWithNewcomer(): Network {
  const net = started(3);
  net.elect(1);
  net.propose(1, 'a');
  net.add(4);
  return net;
}

/** Proposes `data` on node `id`, lets the network run for two heartbeats, and says whether it committed. */
function commits(net: Network, id: number, data: string): boolean {
  const at = net.propose(id, data);
  net.tick(id, 2);
  return net.node(id).status().commit >= at.index;
}

describe('Raft core: membership changes (§6)', () => {
  it('§6 a learner added to the cluster catches up on the log and keeps applying new entries', () => {
    const net = clusterWithNewcomer();
    net.changeConf(1, { changes: [{ type: 'addLearner', nodeId: 4 }] });
    net.tickAll(3);
    assert.deepEqual(members(net.node(1).status().confState), { voters: [1, 2, 3], learners: [4], outgoing: [] });
    assert.deepEqual(members(net.node(4).status().confState), { voters: [1, 2, 3], learners: [4], outgoing: [] });
    assert.deepEqual(net.appliedData(4), ['a']);
    net.propose(1, 'b');
    net.tickAll(2);
    assert.deepEqual(net.appliedData(4), ['a', 'b']);
  });

  it('§6 a learner never campaigns, and its acknowledgement does not count toward commit', () => {
    const net = clusterWithNewcomer();
    net.changeConf(1, { changes: [{ type: 'addLearner', nodeId: 4 }] });
    net.tickAll(3);
    net.isolate(2);
    net.isolate(3);
    assert.equal(commits(net, 1, 'with-learner-only'), false, 'leader + learner committed without a voter majority');
    for (let t = 0; t < 60; t++) {
      net.tickAll(1);
      const role = net.node(4).status().role;
      assert.equal(role, 'follower', `the learner became ${role}`);
    }
    assert.ok(!net.sent.some((m) => m.from === 4 && (m.type === 'vote' || m.type === 'preVote')), 'the learner asked for votes');
    assert.notEqual(net.node(1).status().role, 'leader', "a leader with only a learner's support kept leading");
  });

  it('§6 a node added empty does not campaign before it has learned the configuration', () => {
    const net = clusterWithNewcomer();
    net.isolate(4);
    net.tick(4, 60);
    assert.equal(net.node(4).status().role, 'follower');
    assert.equal(net.node(4).status().term, 0);
    assert.ok(!net.sent.some((m) => m.from === 4), 'an unconfigured node sent messages');
  });

  it('§6 a learner promoted with addVoter counts toward the quorum and can be elected', () => {
    const net = started(1);
    net.elect(1);
    net.add(2);
    net.changeConf(1, { changes: [{ type: 'addLearner', nodeId: 2 }] });
    net.tickAll(2);
    net.isolate(2);
    assert.equal(commits(net, 1, 'alone-with-learner'), true, 'a single voter must commit alone');
    net.heal();
    net.tickAll(2);
    net.changeConf(1, { changes: [{ type: 'addVoter', nodeId: 2 }] });
    net.tickAll(2);
    for (const id of [1, 2]) assert.deepEqual(members(net.node(id).status().confState), { voters: [1, 2], learners: [], outgoing: [] });
    net.isolate(2);
    assert.equal(commits(net, 1, 'needs-two'), false, 'with voters {1, 2} node 1 must not commit alone');
    net.heal();
    net.tickAll(2);
    net.node(1).transferLeadership(2); // node 1's lease would refuse a plain pre-vote from node 2
    net.tickAll(2);
    assert.equal(net.node(2).status().role, 'leader', 'the promoted node could not be elected');
    assert.equal(net.node(1).status().leader, 2);
  });

  it('§6 a voter added one at a time catches up and raises the quorum', () => {
    const net = clusterWithNewcomer();
    net.changeConf(1, { changes: [{ type: 'addVoter', nodeId: 4 }] });
    net.tickAll(3);
    for (const id of [1, 2, 3, 4]) assert.deepEqual(members(net.node(id).status().confState).voters, [1, 2, 3, 4], `node ${id}`);
    assert.deepEqual(net.appliedData(4), ['a']);
    net.isolate(3);
    net.isolate(4);
    assert.equal(commits(net, 1, 'two-of-four'), false, 'committed with 2 of 4 voters');
    net.heal();
    net.isolate(4);
    assert.equal(commits(net, 1, 'three-of-four'), true);
  });

  it('§6 a removed follower no longer counts toward the quorum', () => {
    const net = started(3);
    net.elect(1);
    net.changeConf(1, { changes: [{ type: 'removeNode', nodeId: 3 }] });
    net.tickAll(2);
    for (const id of [1, 2]) assert.deepEqual(members(net.node(id).status().confState).voters, [1, 2]);
    net.isolate(2);
    assert.equal(commits(net, 1, 'one-of-two'), false, 'with voters {1, 2} node 1 must not commit alone');
    net.heal();
    net.isolate(3);
    assert.equal(commits(net, 1, 'two-of-two'), true);
    const mark = net.sent.length;
    net.heal();
    net.tickAll(5);
    assert.ok(!net.sentSince(mark).some((m) => m.from === 1 && m.to === 3 && m.type === 'app'), 'the leader still replicates to a removed node');
  });

  it('§6 a removed node that missed its removal does not disrupt the rest', () => {
    const net = started(3);
    net.elect(1);
    net.isolate(3);
    net.changeConf(1, { changes: [{ type: 'removeNode', nodeId: 3 }] });
    net.tickAll(3);
    const term = net.node(1).status().term;
    net.tickAll(40); // node 3 times out and campaigns while cut off
    net.heal();
    net.tickAll(60);
    assert.equal(net.node(1).status().role, 'leader');
    assert.equal(net.node(1).status().term, term, 'the removed node raised the term of the cluster');
    assert.equal(net.node(2).status().leader, 1);
  });

  it('§6 a removed leader steps down and the remaining voters elect a leader among themselves', () => {
    const net = started(3);
    net.elect(1);
    net.changeConf(1, { changes: [{ type: 'removeNode', nodeId: 1 }] });
    net.tickAll(2);
    assert.notEqual(net.node(1).status().role, 'leader', 'a leader that removed itself kept leading');
    for (const id of [2, 3]) assert.deepEqual(members(net.node(id).status().confState).voters, [2, 3]);
    for (let t = 0; t < 80 && !net.leaders().some((l) => l.id !== 1); t++) net.tickAll(1);
    const leader = net.leaders().find((l) => l.id !== 1);
    assert.ok(leader, 'nodes 2 and 3 elected no leader');
    assert.ok(commits(net, leader.id, 'after-removal'));
    net.tickAll(40);
    assert.notEqual(net.node(1).status().role, 'leader', 'the removed node became leader again');
  });

  it('§6 one change at a time: a conf change is refused while an earlier one is not applied', () => {
    const net = clusterWithNewcomer();
    net.node(1).proposeConfChange({ changes: [{ type: 'addLearner', nodeId: 4 }] });
    assert.throws(() => net.node(1).proposeConfChange({ changes: [{ type: 'addVoter', nodeId: 4 }] }), ProposalDroppedError);
    assert.throws(() => net.node(2).proposeConfChange({ changes: [{ type: 'addLearner', nodeId: 5 }] }), ProposalDroppedError);
    net.deliverAll();
    net.tickAll(2);
    assert.doesNotThrow(() => net.changeConf(1, { changes: [{ type: 'addVoter', nodeId: 4 }] }));
  });

  it('§6 two voter changes in one ConfChange go through a joint configuration and leave it by themselves', () => {
    const net = clusterWithNewcomer();
    net.changeConf(1, { changes: [{ type: 'addVoter', nodeId: 4 }, { type: 'removeNode', nodeId: 3 }] });
    net.tickAll(3);
    const history = net.confHistory.get(1)!.map(members);
    assert.ok(
      history.some((c) => c.voters.join() === '1,2,4' && c.outgoing.join() === '1,2,3'),
      `never joint: ${JSON.stringify(history)}`,
    );
    for (const id of [1, 2, 4]) {
      assert.deepEqual(members(net.node(id).status().confState), { voters: [1, 2, 4], learners: [], outgoing: [] }, `node ${id}`);
    }
    assert.ok(commits(net, 1, 'after-joint'));
  });

  it('§6 joint consensus needs a majority of both configurations', () => {
    const net = clusterWithNewcomer();
    net.add(5);
    net.changeConf(1, {
      changes: [{ type: 'addVoter', nodeId: 4 }, { type: 'addVoter', nodeId: 5 }, { type: 'removeNode', nodeId: 2 }, { type: 'removeNode', nodeId: 3 }],
      transition: 'explicit',
    });
    net.tickAll(3);
    assert.deepEqual(members(net.node(1).status().confState), { voters: [1, 4, 5], learners: [], outgoing: [1, 2, 3] });
    net.isolate(2);
    net.isolate(3);
    assert.equal(commits(net, 1, 'new-majority-only'), false, 'committed with a majority of the new configuration alone');
    net.heal();
    net.tickAll(2);
    net.isolate(4);
    net.isolate(5);
    assert.equal(commits(net, 1, 'old-majority-only'), false, 'committed with a majority of the old configuration alone');
    net.heal();
    net.isolate(3);
    net.isolate(5);
    assert.equal(commits(net, 1, 'both-majorities'), true, '{1,2} of the old and {1,4} of the new must commit');
  });

  it('§6 an explicit joint configuration is kept until an empty ConfChange leaves it', () => {
    const net = clusterWithNewcomer();
    net.changeConf(1, { changes: [{ type: 'addVoter', nodeId: 4 }, { type: 'removeNode', nodeId: 3 }], transition: 'explicit' });
    net.tickAll(20);
    assert.deepEqual(members(net.node(1).status().confState).outgoing, [1, 2, 3], 'left the joint configuration unasked');
    net.changeConf(1, { changes: [] });
    net.tickAll(2);
    for (const id of [1, 2, 4]) {
      assert.deepEqual(members(net.node(id).status().confState), { voters: [1, 2, 4], learners: [], outgoing: [] }, `node ${id}`);
    }
    net.isolate(2);
    assert.equal(commits(net, 1, 'new-config'), true, 'voters {1, 4} of {1, 2, 4} must commit');
    assert.throws(() => net.node(1).proposeConfChange({ changes: [] }), 'leaving a configuration that is not joint must be refused');
  });
});

describe('raft core: a member forced to stand alone (force-new-cluster)', () => {
  const cc = (changes: ConfChange['changes'], transition?: ConfChange['transition']): Entry => ({ term: 2, index: 0, type: 'confChange', data: encodeConfChange({ changes, transition }) });
  const at = (e: Entry, index: number): Entry => ({ ...e, index });
  const normal = (index: number, term = 2): Entry => ({ term, index, type: 'normal', data: new Uint8Array([index]) });

  it('drops the uncommitted suffix, leaves a joint configuration, then removes every other member one at a time, all committed', () => {
    const entries = [
      at(cc([{ type: 'addVoter', nodeId: 1 }, { type: 'addVoter', nodeId: 2 }, { type: 'addVoter', nodeId: 3 }]), 1),
      normal(2),
      at(cc([{ type: 'addLearner', nodeId: 4 }]), 3),
      // Two voters change at once: a joint configuration, not yet left when the quorum was lost.
      at(cc([{ type: 'removeNode', nodeId: 3 }, { type: 'addVoter', nodeId: 5 }], 'explicit'), 4),
      normal(5), normal(6, 3), // never committed
    ];
    const out = RawNode.alone({ hardState: { term: 3, vote: 2, commit: 5 }, snapshot: null, entries }, 2);
    assert.ok(typeof out !== 'string', typeof out === 'string' ? out : '');
    assert.deepEqual(out.state.entries.slice(0, 5), entries.slice(0, 5), 'the committed prefix is kept as it was');
    assert.deepEqual(out.added.map((e) => [e.index, e.term, decodeConfChange(e.data).changes]), [
      [6, 3, []],
      [7, 3, [{ type: 'removeNode', nodeId: 1 }]],
      [8, 3, [{ type: 'removeNode', nodeId: 4 }]],
      [9, 3, [{ type: 'removeNode', nodeId: 5 }]],
    ]);
    assert.deepEqual(out.state.hardState, { term: 3, vote: 2, commit: 9 });
    // Started from it, the member applies the removals and elects itself.
    const node = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, random: new SeededRandom(1), preVote: true, checkQuorum: true, maxSizePerMsgBytes: 1 << 20, maxInflightMsgs: 16 }, out.state);
    while (node.hasReady()) { node.ready(); node.advance(); }
    assert.deepEqual(members(node.status().confState), { voters: [2], learners: [], outgoing: [] });
    for (let i = 0; i < 30 && node.status().role !== 'leader'; i++) { node.tick(); while (node.hasReady()) { node.ready(); node.advance(); } }
    assert.equal(node.status().role, 'leader');
  });

  it('refuses a member that is not a voter of the committed configuration, and changes nothing for a member alone already', () => {
    const founding = at(cc([{ type: 'addVoter', nodeId: 1 }, { type: 'addVoter', nodeId: 2 }]), 1);
    const learner = RawNode.alone({ hardState: { term: 1, vote: 0, commit: 2 }, snapshot: null, entries: [founding, at(cc([{ type: 'addLearner', nodeId: 7 }]), 2)] }, 7);
    assert.equal(learner, 'member 7 is not a voter of the committed configuration (voters: 1, 2)');
    const single = { hardState: { term: 1, vote: 1, commit: 1 }, snapshot: null, entries: [at(cc([{ type: 'addVoter', nodeId: 1 }]), 1)] };
    assert.deepEqual(RawNode.alone(single, 1), { state: single, added: [] });
  });
});
