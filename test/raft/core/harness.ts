// An in-memory cluster of RawNodes for the Raft core's unit tests: each node has a disk (what it
// persisted from its Readies), a state machine (the entries it applied) and a mailbox, and the
// network between them can be cut, filtered and healed. Everything runs in one call stack, so a
// test is a deterministic transcript (STYLE.md §2).
import { encodeConfChange } from '../../../src/raft/core/conf-change';
import { RawNode } from '../../../src/raft/core/raw-node';
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, PersistedState, RaftConfig, ReadState, Ready, Snapshot,
} from '../../../src/raft/core/types';
import { SeededRandom } from '../../../src/types/random';

/** Ready cycles and delivery rounds one `deliverAll()` may take before the test fails (no livelock). */
const deliverRoundsMax = 10_000;

/** What a node has written to its (simulated) stable storage. */
export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/** What a node's state machine has seen: its snapshot image, then the entries applied after it. */
export interface StateMachine {
  image: Uint8Array | null;
  applied: Entry[];
  appliedIndex: number;
}

/** A message filter: return true to drop the message. */
export type DropFilter = (m: Message) => boolean;

/** Settings of the nodes a test builds; the defaults are those of the brief. */
export function makeConfig(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    preVote: true,
    checkQuorum: true,
    maxSizePerMsgBytes: 1 << 20,
    maxInflightMsgs: 256,
    random: new SeededRandom(id),
    ...overrides,
  };
}

/** A message with every field a type does not use set to 0, false or empty. */
export function msg(m: Partial<Message> & { type: MessageType; from: NodeId; to: NodeId }): Message {
  return {
    term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectLogTerm: 0,
    snapshot: null, context: '', ...m,
  };
}

/** A normal entry with the given term and index (data names its place, for diffs in failures). */
export function entry(index: number, term: number, data?: string): Entry {
  return { index, term, type: 'normal', data: bytes(data ?? `e${index}t${term}`) };
}

/** The UTF-8 bytes of a string. */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** The string in an entry's data. */
export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

/**
 * A PersistedState as if the node had been bootstrapped with `voters` and then stored further
 * entries with the given terms (index 2, 3, ...) and reached `term`, `vote` and `commit`.
 */
export function persistedWithLog(
  voters: readonly NodeId[], terms: readonly number[], hs: { term: number; vote?: NodeId; commit?: number },
): PersistedState {
  const boot = RawNode.bootstrap(voters);
  const entries = [...boot.entries, ...terms.map((t, i) => entry(i + 2, t))];
  return { hardState: { term: hs.term, vote: hs.vote ?? 0, commit: hs.commit ?? 1 }, snapshot: null, entries };
}

/** The (index, term) pairs of a log, for compact assertions. */
export function terms(es: readonly Entry[]): number[] {
  return es.map((e) => e.term);
}

/** A cluster of RawNodes connected by a controllable in-memory network. */
export class Network {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly disks = new Map<NodeId, Disk>();
  readonly machines = new Map<NodeId, StateMachine>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every Ready each node produced, in order (for checks of the Ready contract). */
  readonly readies = new Map<NodeId, Ready[]>();
  /** Each distinct configuration each node has had, in order (taken after every advance()). */
  readonly confHistory = new Map<NodeId, ConfState[]>();
  /** Every message any node sent, delivered or not, in order. */
  readonly sent: Message[] = [];
  /** Messages sent but not yet delivered. */
  queue: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private readonly filters: DropFilter[] = [];
  private readonly configs = new Map<NodeId, Partial<RaftConfig>>();

  /** Nodes 1..n bootstrapped together (or from the given persisted states), all with `overrides`. */
  constructor(n: number, readonly overrides: Partial<RaftConfig> = {}, persisted?: ReadonlyMap<NodeId, PersistedState>) {
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    for (const id of voters) this.start(id, persisted?.get(id) ?? RawNode.bootstrap(voters));
  }

  /** Starts node `id` from `state` (a new member uses RawNode.empty()), with optional own settings. */
  start(id: NodeId, state: PersistedState, overrides: Partial<RaftConfig> = {}): RawNode {
    this.configs.set(id, overrides);
    const node = new RawNode(makeConfig(id, { ...this.overrides, ...overrides }), state);
    this.nodes.set(id, node);
    this.disks.set(id, { hardState: state.hardState, snapshot: state.snapshot, entries: [...state.entries] });
    const image = state.snapshot?.data ?? null;
    this.machines.set(id, { image, applied: [], appliedIndex: state.applied ?? state.snapshot?.index ?? 0 });
    this.readStates.set(id, []);
    this.readies.set(id, []);
    this.confHistory.set(id, []);
    return node;
  }

  /** Adds a node that joins later (it starts empty and learns everything from the leader). */
  add(id: NodeId, overrides: Partial<RaftConfig> = {}): RawNode {
    return this.start(id, RawNode.empty(), overrides);
  }

  /** Crashes node `id` and starts it again from what it persisted (volatile state is lost). */
  restart(id: NodeId): RawNode {
    const d = this.disk(id);
    const state: PersistedState = { hardState: d.hardState, snapshot: d.snapshot, entries: [...d.entries] };
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return this.start(id, state, this.configs.get(id));
  }

  node(id: NodeId): RawNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id} in the test network`);
    return n;
  }

  disk(id: NodeId): Disk {
    return this.disks.get(id)!;
  }

  machine(id: NodeId): StateMachine {
    return this.machines.get(id)!;
  }

  /** The strings of the normal entries node `id` has applied since it (re)started. */
  appliedData(id: NodeId): string[] {
    return this.machine(id).applied.filter((e) => e.type === 'normal' && e.data.length > 0).map(text);
  }

  /** Runs node `id`'s Ready cycles (persist, apply, advance) and returns the messages it emitted, undelivered. */
  drain(id: NodeId): Message[] {
    const node = this.node(id);
    const out: Message[] = [];
    for (let i = 0; node.hasReady(); i++) {
      if (i >= deliverRoundsMax) throw new Error(`node ${id} never stops producing Readies`);
      const rd = node.ready();
      this.readies.get(id)!.push(rd);
      this.persist(id, rd);
      out.push(...rd.messages);
      this.apply(id, rd);
      node.advance();
      this.recordConf(id);
    }
    this.sent.push(...out);
    return out;
  }

  /** Steps a hand-made message into one node and returns what it emits in response (not delivered). */
  stepInto(id: NodeId, m: Message): Message[] {
    this.node(id).step(m);
    return this.drain(id);
  }

  /** Runs every node's Ready cycle, then delivers what they sent, until the network is quiet. */
  deliverAll(): void {
    for (let round = 0; ; round++) {
      if (round >= deliverRoundsMax) throw new Error('the network never went quiet');
      for (const id of [...this.nodes.keys()]) this.queue.push(...this.drain(id));
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
  }

  /** Delivers one message now unless the network drops it (a dropped 'snap' is reported as failed). */
  deliver(m: Message): boolean {
    const target = this.nodes.get(m.to);
    if (target === undefined || this.dropped(m)) {
      if (m.type === 'snap') this.nodes.get(m.from)?.reportSnapshot(m.to, false);
      return false;
    }
    target.step(m);
    if (m.type === 'snap') this.nodes.get(m.from)?.reportSnapshot(m.to, true);
    return true;
  }

  /** Ticks every node `n` times, delivering after each tick. */
  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.deliverAll();
    }
  }

  /** Ticks one node `n` times, delivering after each tick. */
  tick(id: NodeId, n: number): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.deliverAll();
    }
  }

  /** Node `id` campaigns now and the network runs until quiet. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.deliverAll();
  }

  /** Proposes `data` on node `id` and runs the network until quiet; returns where it went. */
  propose(id: NodeId, data: string): { index: number; term: number } {
    const at = this.node(id).propose(bytes(data));
    this.deliverAll();
    return at;
  }

  /** Proposes a membership change on node `id` and runs the network until quiet. */
  changeConf(id: NodeId, cc: ConfChange): { index: number; term: number } {
    const at = this.node(id).proposeConfChange(cc);
    this.deliverAll();
    return at;
  }

  /** Drops every message to and from `id`. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Drops every message between `a` and `b`, both ways. */
  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }

  /** Drops messages matching `f` until heal(). */
  drop(f: DropFilter): void {
    this.filters.push(f);
  }

  /** Removes every isolation, cut and filter. */
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
    this.filters.length = 0;
  }

  /** Node ids whose status says they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    return [...this.nodes.values()].map((n) => n.status()).filter((s) => s.role === 'leader').map((s) => ({ id: s.id, term: s.term }));
  }

  /** Messages sent since `mark` (an index into `sent`) that match `f`. */
  sentSince(mark: number, f: (m: Message) => boolean = () => true): Message[] {
    return this.sent.slice(mark).filter(f);
  }

  private recordConf(id: NodeId): void {
    const h = this.confHistory.get(id)!;
    const cs = this.node(id).status().confState;
    if (h.length === 0 || JSON.stringify(h[h.length - 1]) !== JSON.stringify(cs)) h.push(cs);
  }

  /** Ticks node `id` (draining, not delivering) until `done` holds for what that tick emitted. */
  tickUntil(id: NodeId, done: (out: Message[]) => boolean, ticksMax: number): { ticks: number; out: Message[] } {
    for (let t = 1; t <= ticksMax; t++) {
      this.node(id).tick();
      const out = this.drain(id);
      if (done(out)) return { ticks: t, out };
    }
    throw new Error(`node ${id}: nothing expected happened in ${ticksMax} ticks`);
  }

  private dropped(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cuts.has(`${m.from}-${m.to}`)) return true;
    return this.filters.some((f) => f(m));
  }

  private persist(id: NodeId, rd: Ready): void {
    const d = this.disk(id);
    if (rd.snapshot !== null) {
      d.snapshot = rd.snapshot;
      const snapIndex = rd.snapshot.index;
      d.entries = d.entries.filter((e) => e.index > snapIndex);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      d.entries = [...d.entries.filter((e) => e.index < first), ...rd.entries];
    }
    if (rd.hardState !== null) d.hardState = rd.hardState;
  }

  private apply(id: NodeId, rd: Ready): void {
    const sm = this.machine(id);
    if (rd.snapshot !== null) {
      sm.image = rd.snapshot.data;
      sm.appliedIndex = rd.snapshot.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== sm.appliedIndex + 1) throw new Error(`node ${id} asked to apply ${e.index} after ${sm.appliedIndex}`);
      sm.applied.push(e);
      sm.appliedIndex = e.index;
    }
    this.readStates.get(id)!.push(...rd.readStates);
  }

  /** Takes a snapshot of node `id` at its applied index, stores it, and compacts the log up to it. */
  snapshotAndCompact(id: NodeId, data: string): Snapshot {
    const node = this.node(id);
    const snap = node.createSnapshot(bytes(data));
    node.compact(snap.index);
    const d = this.disk(id);
    d.snapshot = snap;
    d.entries = d.entries.filter((e) => e.index > snap.index);
    return snap;
  }
}

/** The encoded data of a confChange entry, for hand-made logs. */
export function confChangeEntry(index: number, term: number, cc: ConfChange): Entry {
  return { index, term, type: 'confChange', data: encodeConfChange(cc) };
}

/** A network of `n` bootstrapped nodes (or the given states) that has run its first Ready cycles. */
export function started(n: number, overrides: Partial<RaftConfig> = {}, persisted?: ReadonlyMap<NodeId, PersistedState>): Network {
  const net = new Network(n, overrides, persisted);
  net.deliverAll();
  return net;
}

/** Sorted copy of a list of ids, for order-insensitive comparisons. */
export function sorted(ids: readonly NodeId[]): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}
