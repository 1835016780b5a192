import assert from 'node:assert/strict';
import { RaftNode } from '../../../src/raft/node/raft-node';
import type { Transport } from '../../../src/raft/node/transport';
import { MemoryRaftStorage } from '../../../src/raft/storage/memory-storage';
import type { ReadyWrite } from '../../../src/raft/storage/raft-storage';
import { ManualClock } from '../../../src/types/clock';
import { ShoalError } from '../../../src/types/errors';
import { SeededRandom } from '../../../src/types/random';
import { ListStateMachine } from './fixtures/list-state-machine';

/** A storage whose writes wait until the test opens the gate, to hold a write "in flight". */
class GatedStorage extends MemoryRaftStorage {
  held = false;
  private release: (() => void) | null = null;
  readonly writesWithEntries: number[] = [];

  override async saveReady(w: ReadyWrite): Promise<void> {
    if (w.entries.length > 0) this.writesWithEntries.push(w.entries.length);
    if (this.held) await new Promise<void>((r) => (this.release = r));
    return super.saveReady(w);
  }

  open(): void {
    this.held = false;
    this.release?.();
    this.release = null;
  }
}

/** A single member needs no network. */
const noNetwork: Transport = { start: () => undefined, send: () => undefined, setPeer: () => undefined, removePeer: () => undefined, close: () => Promise.resolve() };

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function singleLeader(storage: MemoryRaftStorage, clock: ManualClock, proposalTimeoutMs = 10_000): Promise<{ node: RaftNode<number>; sm: ListStateMachine }> {
  const sm = new ListStateMachine();
  const node = await RaftNode.open<number>({ id: 1, storage, transport: noNetwork, stateMachine: sm, bootstrap: { 1: 'local' }, clock, random: new SeededRandom(1), proposalTimeoutMs });
  for (let i = 0; i < 40 && !node.isLeader(); i++) {
    clock.advance(100);
    for (let k = 0; k < 5; k++) await flush();
  }
  assert.ok(node.isLeader(), 'the single member did not elect itself');
  return { node, sm };
}

describe('raft node: Ready handling with an in-memory storage and a manual clock', () => {
  it('proposals that arrive while a write is in flight are grouped into the next single write', async () => {
    const storage = new GatedStorage();
    const clock = new ManualClock();
    const { node, sm } = await singleLeader(storage, clock);
    storage.writesWithEntries.length = 0;
    storage.held = true;
    const first = node.propose(Buffer.from('p0'));
    for (let k = 0; k < 3; k++) await flush();
    assert.deepEqual(storage.writesWithEntries, [1], 'the first proposal is being written');
    const rest = Array.from({ length: 50 }, (_, i) => node.propose(Buffer.from(`p${i + 1}`)));
    for (let k = 0; k < 3; k++) await flush();
    assert.deepEqual(storage.writesWithEntries, [1], 'no second write starts while the first is in flight');
    storage.open();
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(storage.writesWithEntries, [1, 50], 'the 50 waiting proposals went to disk in one write');
    assert.deepEqual(results, Array.from({ length: 51 }, (_, i) => i + 1), 'each promise resolves with its own apply result');
    assert.deepEqual(sm.ops, Array.from({ length: 51 }, (_, i) => `p${i}`));
    await node.stop();
  });

  it('a proposal whose write never completes rejects at its deadline instead of hanging', async () => {
    const storage = new GatedStorage();
    const clock = new ManualClock();
    const { node } = await singleLeader(storage, clock, 1000);
    storage.held = true;
    const p = node.propose(Buffer.from('stuck')).then(() => 'resolved', (err: unknown) => err);
    for (let k = 0; k < 3; k++) await flush();
    clock.advance(1200);
    const outcome = await p;
    assert.ok(ShoalError.is(outcome, 'Unavailable'), `expected Unavailable, got ${String(outcome)}`);
    assert.match((outcome as Error).message, /not applied within 1000 ms/);
    storage.open();
    await node.stop();
  });

  it('a restart replays the log after the snapshot into the state machine, once', async () => {
    const storage = new MemoryRaftStorage();
    const clock = new ManualClock();
    const sm1 = new ListStateMachine();
    const a = await RaftNode.open<number>({ id: 1, storage, transport: noNetwork, stateMachine: sm1, bootstrap: { 1: 'local' }, clock, random: new SeededRandom(2), snapshotEveryEntries: 5, keepTailEntries: 2 });
    for (let i = 0; i < 40 && !a.isLeader(); i++) {
      clock.advance(100);
      for (let k = 0; k < 5; k++) await flush();
    }
    for (let i = 0; i < 12; i++) await a.propose(Buffer.from(`op${i}`));
    await a.stop();
    const stored = await storage.load();
    assert.ok((stored?.state.snapshot?.index ?? 0) > 5, 'a snapshot was taken');
    const sm2 = new ListStateMachine();
    const b = await RaftNode.open<number>({ id: 1, storage, transport: noNetwork, stateMachine: sm2, clock, random: new SeededRandom(3) });
    for (let i = 0; i < 40 && sm2.ops.length < 12; i++) {
      clock.advance(100);
      for (let k = 0; k < 5; k++) await flush();
    }
    assert.deepEqual(sm2.ops, sm1.ops);
    await b.stop();
  });
});
