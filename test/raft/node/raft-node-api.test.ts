import assert from 'node:assert/strict';
import { Client } from '@grpc/grpc-js';
import { channelKeepaliveOptions, managerChannelCredentials } from '../../../src/pki/tls-credentials';
import { raftServiceDefinition } from '../../../src/raft/transport/raft-service';
import { encodeBatch } from '../../../src/raft/wire/codec';
import { ShoalError } from '../../../src/types/errors';
import { InProcessCluster } from './in-process-cluster';

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('raft node API over real gRPC with mutual TLS and LevelDB', function () {
  this.timeout(60_000);
  let c: InProcessCluster | undefined;

  afterEach(async () => {
    await c?.destroy();
    c = undefined;
  });

  it('a proposal resolves with its apply result on the leader, and a follower refuses proposals naming the leader', async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    assert.equal(await leader.node.propose(Buffer.from('a')), 1);
    assert.equal(await leader.node.propose(Buffer.from('b')), 2);
    const follower = [...c.members.values()].find((m) => m !== leader);
    assert.ok(follower !== undefined);
    await until(() => follower.node.leaderId() === leader.id, 5000, 'the follower did not learn the leader');
    await assert.rejects(follower.node.propose(Buffer.from('c')), (err: unknown) => {
      assert.ok(ShoalError.is(err, 'Unavailable'));
      assert.match(err.hint ?? '', new RegExp(`raft member ${leader.id}`));
      return true;
    });
  });

  it("a follower's read barrier resolves only after it applied every write acknowledged before the call", async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    const followers = [...c.members.values()].filter((m) => m !== leader);
    for (const f of followers) await until(() => f.node.leaderId() === leader.id, 5000, 'followers did not learn the leader');
    for (let i = 0; i < 30; i++) {
      const op = `w${i}`;
      await leader.node.propose(Buffer.from(op));
      const f = followers[i % 2];
      await f.node.readBarrier();
      assert.equal(f.sm.ops.at(-1), op, `follower ${f.id} answered a read before applying ${op}`);
    }
  });

  it('a learner joins and catches up, is promoted to voter, is removed, and its id is refused forever after', async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    for (let i = 0; i < 20; i++) await leader.node.propose(Buffer.from(`before-${i}`));
    const knownPeers = Object.fromEntries([...c.members.values()].map((m) => [m.id, m.address]));
    const listening = await c.listen();
    const address = `127.0.0.1:${listening.server.port}`;
    const four = await c.start(4, { knownPeers, listening });
    await leader.node.addLearner(4, address);
    await until(() => four.sm.ops.length === 20, 10_000, 'the learner did not catch up');
    assert.deepEqual(leader.node.status().confState.learners, [4]);
    await leader.node.promoteLearner(4);
    assert.deepEqual([...leader.node.status().confState.voters].sort(), [1, 2, 3, 4]);
    await leader.node.propose(Buffer.from('with-four'));
    await until(() => four.sm.ops.at(-1) === 'with-four', 5000, 'the new voter did not apply');
    await leader.node.removeMember(4);
    assert.deepEqual([...leader.node.status().confState.voters].sort(), [1, 2, 3]);
    await c.stop(4);
    assert.throws(() => leader.node.addVoter(4, address), (err: unknown) => ShoalError.is(err, 'FailedPrecondition') && /never|cannot be reused/.test(err.message));
    // Every member learned the removal from the log, so a later leader refuses the id too.
    const other = [...c.members.values()].find((m) => m !== leader);
    assert.ok(other !== undefined);
    await until(() => !other.node.status().confState.voters.includes(4), 5000, 'a follower did not apply the removal');
    assert.throws(() => other.node.addLearner(4, address), (err: unknown) => ShoalError.is(err, 'FailedPrecondition'));
  });

  it('leadership moves to the member it is transferred to, and proposals then go through the new leader', async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    await leader.node.propose(Buffer.from('x'));
    const target = [...c.members.values()].find((m) => m !== leader);
    assert.ok(target !== undefined);
    await leader.node.transferLeadership(target.id);
    await until(() => target.node.isLeader(), 5000, 'the target did not become leader');
    assert.equal(leader.node.isLeader(), false);
    assert.equal(typeof await target.node.propose(Buffer.from('y')), 'number');
  });

  it("a worker's certificate cannot reach the Raft transport, and what it sends never reaches a node", async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    const termBefore = leader.node.status().term;
    const worker = await c.identity('worker');
    const client = new Client(leader.address, managerChannelCredentials(worker), channelKeepaliveOptions);
    try {
      const status = await new Promise<number>((resolve) => {
        const call = client.makeClientStreamRequest<Uint8Array, Uint8Array>(
          raftServiceDefinition.Stream.path,
          raftServiceDefinition.Stream.requestSerialize as (b: Uint8Array) => Buffer,
          raftServiceDefinition.Stream.responseDeserialize as (b: Buffer) => Uint8Array,
          (err) => resolve(err?.code ?? 0),
        );
        call.on('error', () => undefined);
        // A vote request for a far later term: a node that saw it would step down.
        const vote = { type: 'vote' as const, from: 2, to: leader.id, term: termBefore + 100, logTerm: 99, index: 1e6, entries: [], commit: 0, reject: false, rejectHint: 0, rejectLogTerm: 0, snapshot: null, context: '' };
        call.write(encodeBatch([vote]));
        call.end();
      });
      assert.equal(status, 7, 'expected PERMISSION_DENIED');
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(leader.node.isLeader(), true);
    assert.ok(leader.node.status().term < termBefore + 100, 'the forged vote request reached the node');
  });

  it('a member of a group that lost its quorum for good restarts alone with --force-new-cluster: committed state kept, writes taken, durable', async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500 });
    await c.found(3);
    const leader = await c.leader();
    for (const op of ['a', 'b']) await leader.node.propose(Buffer.from(op));
    const survivor = [...c.members.values()].find((m) => m !== leader)!;
    await until(() => survivor.sm.ops.length === 2, 5000, 'the follower did not apply a and b');
    const id = survivor.id;
    for (const m of [...c.members.keys()]) await c.stop(m);
    // Without force, the survivor alone never leads: it has no quorum.
    const stuck = await c.start(id, {});
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(stuck.node.isLeader(), false, 'one of three members must not lead alone');
    await c.stop(id);
    const alone = await c.start(id, { forceNewCluster: true });
    await until(() => alone.node.isLeader(), 10_000, 'the forced member did not lead');
    assert.deepEqual(alone.node.status().confState.voters, [id]);
    assert.deepEqual(alone.sm.ops, ['a', 'b'], 'the committed state is kept');
    assert.equal(await alone.node.propose(Buffer.from('c')), 3);
    await c.stop(id);
    const again = await c.start(id, {});
    await until(() => again.node.isLeader(), 10_000, 'the member did not lead again after a plain restart');
    assert.deepEqual(again.sm.ops, ['a', 'b', 'c']);
    assert.deepEqual(again.node.status().confState.voters, [id]);
    await c.stop(id);
    await assert.rejects(c.start(99, { forceNewCluster: true }), (err: unknown) => ShoalError.is(err, 'FailedPrecondition') && /no raft state to keep/.test(err.message));
  });

  it('a proposal on a leader that lost its quorum rejects instead of hanging', async () => {
    c = await InProcessCluster.create({ heartbeatMs: 50, electionTimeoutMs: 500, proposalTimeoutMs: 2000 });
    await c.found(3);
    const leader = await c.leader();
    await leader.node.propose(Buffer.from('ok'));
    for (const id of [...c.members.keys()]) if (id !== leader.id) await c.stop(id);
    const started = Date.now();
    const outcome = await leader.node.propose(Buffer.from('lost')).then(() => 'resolved', (err: unknown) => err);
    assert.ok(ShoalError.is(outcome, 'Unavailable'), `expected Unavailable, got ${String(outcome)}`);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(!leader.sm.ops.includes('lost'), 'a proposal without quorum was applied');
  });
});
