import assert from 'node:assert/strict';
import { SeededRandom } from '../../../src/types/random';
import { ProcCluster, sleep, type ProcState } from './proc-cluster';

/** Proposes unique ops from `clients` concurrent loops until stop() says so; never retries an op. */
function startClients(c: ProcCluster, clients: number, opBytes = 0): { acked: Set<string>; stop: () => Promise<void> } {
  const acked = new Set<string>();
  let stopping = false;
  const pad = 'x'.repeat(opBytes);
  const loops = Array.from({ length: clients }, async (_, k) => {
    let n = 0;
    let target = 1;
    while (!stopping) {
      const op = `c${k}-${n++}${pad}`;
      const r = await c.propose(target, op, 3000);
      if (r.ok) acked.add(op);
      else {
        const running = c.ids().filter((id) => c.isRunning(id));
        target = running.length > 0 ? running[(n + k) % running.length] : 1;
        await sleep(20);
      }
    }
  });
  return { acked, stop: async () => { stopping = true; await Promise.all(loops); } };
}

/** Waits until every member runs and all have applied the same ops, including `marker`. */
async function converge(c: ProcCluster, marker: string, timeoutMs = 30_000): Promise<ProcState[]> {
  const end = Date.now() + timeoutMs;
  let last: (ProcState | null)[] = [];
  while (Date.now() < end) {
    last = await Promise.all(c.ids().map((id) => c.state(id)));
    const ok = last.every((s) => s !== null && s.ops.includes(marker) && s.opsCount === last[0]?.opsCount);
    if (ok) return last as ProcState[];
    await sleep(100);
  }
  throw new Error(`members did not converge within ${timeoutMs} ms: ${JSON.stringify(last.map((s) => s && { id: s.id, ops: s.opsCount, commit: s.commit, applied: s.applied, role: s.role }))}`);
}

/** Proposes `op` until some member acknowledges it. */
async function proposeUntilAcked(c: ProcCluster, op: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const id of c.ids()) if ((await c.propose(id, op, 3000)).ok) return;
    await sleep(100);
  }
  throw new Error(`${op} was not acknowledged within ${timeoutMs} ms`);
}

describe('durable raft node: crash safety with real processes, gRPC and mutual TLS', function () {
  this.timeout(240_000);
  let c: ProcCluster | undefined;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && c !== undefined) {
      for (const [id, err] of c.stderr) if (err.trim() !== '') console.error(`member ${id} stderr:\n${err}`);
    }
    await c?.destroy();
    c = undefined;
  });

  it('every acknowledged proposal survives repeated kill -9 of random members (the leader too), once and in the same order everywhere', async () => {
    const rnd = new SeededRandom(Number(process.env.SHOAL_CRASH_SEED ?? 20261122));
    c = await ProcCluster.create({ size: 3, heartbeatMs: 50, electionTimeoutMs: 500, snapshotEveryEntries: 300, keepTailEntries: 50 });
    const cluster = c;
    await Promise.all(cluster.ids().map((id) => cluster.start(id)));
    await cluster.waitForLeader();
    const clients = startClients(cluster, 4);
    let leaderKills = 0;
    for (let round = 0; round < 12; round++) {
      await sleep(300 + rnd.int(700));
      // Every third round kills the leader: wait for one if an election is still running.
      const leader = round % 3 === 0 ? await cluster.waitForLeader(15_000) : await cluster.leader();
      const victim = round % 3 === 0 ? leader : rnd.pick(cluster.ids());
      if (victim === leader) leaderKills++;
      await cluster.kill(victim);
      await sleep(100 + rnd.int(900));
      await cluster.start(victim);
    }
    await clients.stop();
    await proposeUntilAcked(cluster, 'final');
    const states = await converge(cluster, 'final');
    const acked = clients.acked;
    assert.ok(acked.size >= 200, `only ${acked.size} proposals were acknowledged: the load was too light to show anything`);
    assert.ok(leaderKills >= 3, `the leader was killed only ${leaderKills} times`);
    const reference = states[0].ops;
    for (const s of states) {
      assert.deepEqual(s.ops, reference, `member ${s.id} applied a different sequence from member ${states[0].id}`);
    }
    const seen = new Set<string>();
    for (const op of reference) {
      assert.ok(!seen.has(op), `${op} was applied twice`);
      seen.add(op);
    }
    const lost = [...acked].filter((op) => !seen.has(op));
    assert.deepEqual(lost, [], `acknowledged proposals missing after the crashes: ${lost.slice(0, 10).join(', ')}`);
  });

  it('a member that was down while the others compacted catches up through a streamed snapshot', async () => {
    c = await ProcCluster.create({ size: 3, heartbeatMs: 50, electionTimeoutMs: 500, snapshotEveryEntries: 100, keepTailEntries: 10 });
    const cluster = c;
    await Promise.all(cluster.ids().map((id) => cluster.start(id)));
    await cluster.waitForLeader();
    await proposeUntilAcked(cluster, 'before');
    await cluster.kill(3);
    // ~3 MiB of state, so the snapshot travels in several 1 MiB chunks.
    const clients = startClients(cluster, 8, 8 * 1024);
    const end = Date.now() + 60_000;
    while (clients.acked.size < 400 && Date.now() < end) await sleep(100);
    await clients.stop();
    const others = await Promise.all([cluster.state(1), cluster.state(2)]);
    for (const s of others) assert.ok(s !== null && s.firstIndex > 300, `member ${s?.id} did not compact its log (first index ${s?.firstIndex})`);
    await cluster.start(3);
    await proposeUntilAcked(cluster, 'after');
    const states = await converge(cluster, 'after', 60_000);
    const three = states.find((s) => s.id === 3);
    assert.ok(three !== undefined);
    assert.ok(three.firstIndex > 300, `member 3 replayed its log from index ${three.firstIndex} instead of installing a snapshot`);
    assert.deepEqual(three.ops, states[0].ops);
    for (const op of clients.acked) assert.ok(three.ops.includes(op), `member 3 is missing ${op.slice(0, 20)}`);
  });
});
