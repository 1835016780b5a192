import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { channelKeepaliveOptions, managerChannelCredentials } from '../../../src/pki/tls-credentials';
import type { Message } from '../../../src/raft/core/types';
import { GrpcTransport } from '../../../src/raft/transport/grpc-transport';
import { raftServiceDefinition } from '../../../src/raft/transport/raft-service';
import { InProcessCluster, type Listening } from '../node/in-process-cluster';

function message(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return { term: 3, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectLogTerm: 0, snapshot: null, context: '', ...m };
}

describe('raft gRPC transport over mutual TLS', function () {
  this.timeout(30_000);
  let c: InProcessCluster | undefined;
  const transports: GrpcTransport[] = [];
  const servers: Listening[] = [];

  afterEach(async () => {
    for (const t of transports.splice(0)) await t.close();
    for (const s of servers.splice(0)) await s.server.close();
    await c?.destroy();
    c = undefined;
  });

  /** A transport for member `id` on its own mTLS server; received messages go to `inbox`. */
  async function member(id: number, inbox: Message[], sent: [number, boolean][] = []): Promise<{ t: GrpcTransport; address: string }> {
    if (c === undefined) c = await InProcessCluster.create();
    const l = await c.listen();
    servers.push(l);
    const t = new GrpcTransport({ selfId: id, credentials: managerChannelCredentials(l.identity), channelOptions: channelKeepaliveOptions, snapshotChunkBytes: 1024 * 1024 });
    l.server.grpc.addService(raftServiceDefinition, t.service);
    t.start({ onMessage: (m) => inbox.push(m), onUnreachable: () => undefined, onSnapshotSent: (to, ok) => sent.push([to, ok]) });
    transports.push(t);
    return { t, address: `127.0.0.1:${l.server.port}` };
  }

  async function until(cond: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 15_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(what);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('messages arrive in the order sent, batched on one stream', async () => {
    const inbox: Message[] = [];
    const a = await member(1, []);
    const b = await member(2, inbox);
    a.t.setPeer(2, b.address);
    const sent = Array.from({ length: 500 }, (_, i) => message({ type: 'app', from: 1, to: 2, index: i, entries: [{ term: 3, index: i + 1, type: 'normal', data: Buffer.from(`e${i}`) }] }));
    for (let i = 0; i < sent.length; i += 50) a.t.send(sent.slice(i, i + 50));
    await until(() => inbox.length === 500, `only ${inbox.length} of 500 messages arrived`);
    assert.deepEqual(inbox.map((m) => m.index), sent.map((m) => m.index));
    assert.deepEqual(Buffer.from(inbox[499].entries[0].data).toString(), 'e499');
  });

  it('a snapshot larger than gRPC\'s 4 MiB message limit arrives whole, streamed in chunks', async () => {
    const inbox: Message[] = [];
    const reports: [number, boolean][] = [];
    const a = await member(1, [], reports);
    const b = await member(2, inbox);
    a.t.setPeer(2, b.address);
    const data = randomBytes(9 * 1024 * 1024 + 17);
    const conf = { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    a.t.send([message({ type: 'snap', from: 1, to: 2, snapshot: { index: 500, term: 3, confState: conf, data } })]);
    await until(() => inbox.length === 1 && reports.length === 1, 'the snapshot did not arrive');
    assert.deepEqual(reports, [[2, true]]);
    const got = inbox[0].snapshot;
    assert.ok(got !== null);
    assert.equal(got.index, 500);
    assert.deepEqual(got.confState, conf);
    assert.ok(Buffer.from(got.data).equals(data), 'the reassembled snapshot differs from the one sent');
  });

  it('a peer that restarts is reached again after the transport reconnects', async () => {
    const inbox: Message[] = [];
    const a = await member(1, []);
    let b = await member(2, inbox);
    a.t.setPeer(2, b.address);
    a.t.send([message({ type: 'heartbeat', from: 1, to: 2, commit: 1 })]);
    await until(() => inbox.length === 1, 'the first message did not arrive');
    // Stop member 2's server and start a new one on another port (as after a restart and re-address).
    const old = servers.pop();
    await old?.server.close();
    b = await member(2, inbox);
    a.t.setPeer(2, b.address);
    const end = Date.now() + 10_000;
    while (inbox.length < 2 && Date.now() < end) {
      a.t.send([message({ type: 'heartbeat', from: 1, to: 2, commit: 2 })]);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(inbox.some((m) => m.commit === 2), 'no message reached the restarted peer');
  });
});
