// One simulated Raft member: the owner of a RawNode that follows the Ready contract (types.ts)
// to the letter, with a SimDisk that survives crashes and a KV state machine that does not.
import { RawNode, type RaftStatus } from '../../../src/raft/core/raw-node';
import type { Entry, Message, NodeId, RaftConfig, Ready, Role, Snapshot } from '../../../src/raft/core/types';
import { type Invariants, violation } from './invariants';
import { SimDisk } from './sim-disk';
import { decodeCommand, decodeKv, encodeKv, type Kv } from './sim-kv';

/** Bound on Ready rounds in one processing pass: the core must run out of work. */
const READY_ROUNDS_MAX = 100;

/** What a node reports to the simulation around it. */
export interface NodeObserver {
  readonly invariants: Invariants;
  send(from: SimNode, m: Message): void;
  leaderElected(node: SimNode, term: number): void;
  applied(node: SimNode, e: Entry): void;
  restored(node: SimNode, s: Snapshot): void;
  readServed(node: SimNode, context: string): void;
  statusSeen(node: SimNode, st: RaftStatus): void;
  /**
   * Asked after a node sent its 'app' messages ahead of its write (the leader's exception in
   * the Ready contract): true crashes it before the write is durable.
   */
  crashBeforeWrite(node: SimNode): boolean;
}

/** A simulated member: disk, volatile core and state machine. */
export class SimNode {
  readonly disk = new SimDisk();
  /** The running core; null while crashed. */
  raw: RawNode | null = null;
  kv: Kv = new Map();
  applied = 0;
  /** Counts restarts, so that a reply to an earlier life is recognised. */
  incarnation = 0;
  role: Role = 'follower';
  term = 0;
  /** Last status seen in this life: term, commit and applied may not go back. */
  private last: RaftStatus | null = null;
  private leaderTerm = 0;
  /** ReadIndex contexts waiting here: null until the ReadState arrives, then its index. */
  private readonly reads = new Map<string, number | null>();
  /** Set when the node crashed in the middle of handling a Ready; the cluster finishes the crash. */
  crashedMidWrite = false;

  /**
   * `appsBeforeWrite`: send 'app' messages before persisting, as the Ready contract allows a
   * leader (thesis §10.2.1), so that a crash can fall between the two.
   */
  constructor(readonly id: NodeId, private readonly config: RaftConfig, private readonly obs: NodeObserver,
    private readonly appsBeforeWrite = false) {}

  get alive(): boolean {
    return this.raw !== null;
  }

  /** Starts (or restarts) the core from what the disk holds; the state machine from its snapshot. */
  start(): void {
    this.incarnation++;
    this.raw = new RawNode(this.config, this.disk.persisted());
    this.kv = this.disk.snapshot === null ? new Map<string, string>() : decodeKv(this.disk.snapshot.data);
    this.applied = this.disk.snapshotIndex();
    this.role = 'follower';
    this.term = this.disk.hardState.term;
    this.last = null;
    this.leaderTerm = 0;
  }

  /** Loses everything volatile; the disk stays. */
  crash(): void {
    this.raw = null;
    this.crashedMidWrite = false;
    this.kv = new Map();
    this.reads.clear();
    this.role = 'follower';
  }

  /** Asks for a linearizable read; throws what readIndex throws. */
  startRead(context: string): void {
    this.core().readIndex(context);
    this.reads.set(context, null);
  }

  /** The running core (the caller checked `alive`). */
  core(): RawNode {
    if (this.raw === null) throw new Error(`n${this.id} is down`);
    return this.raw;
  }

  /** Handles Ready batches until the core has nothing more for its owner. */
  processReady(): void {
    const raw = this.raw;
    if (raw === null) return;
    for (let round = 0; raw.hasReady(); round++) {
      if (round >= READY_ROUNDS_MAX) violation(`n${this.id}: hasReady() still true after ${READY_ROUNDS_MAX} rounds`);
      const rd = raw.ready();
      if (!this.handle(rd)) {
        this.crashedMidWrite = true;
        return;
      }
      raw.advance();
      this.afterAdvance(raw);
    }
  }

  /** Steps 1-4 of the Ready contract, in order; false when the node crashed before its write. */
  private handle(rd: Ready): boolean {
    const early = this.appsBeforeWrite ? rd.messages.filter((m) => m.type === 'app') : [];
    for (const m of early) this.sendOne(m);
    if (early.length > 0 && this.obs.crashBeforeWrite(this)) return false;
    const problem = this.disk.write(rd.snapshot, rd.entries, rd.hardState);
    if (problem !== null) violation(`n${this.id} persist: ${problem}`);
    if (rd.entries.length > 0) this.obs.invariants.persisted(this.id, rd.entries, (i) => this.disk.term(i));
    for (const m of rd.messages) if (!early.includes(m)) this.sendOne(m);
    if (rd.snapshot !== null) this.restore(rd.snapshot);
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) {
      if (this.reads.get(rs.context) === null) this.reads.set(rs.context, rs.index);
    }
    this.serveReads();
    return true;
  }

  private sendOne(m: Message): void {
    if (m.from !== this.id) violation(`n${this.id} sends a ${m.type} message from n${m.from}`);
    this.obs.invariants.sending(this.id, m, this.disk.hardState, this.disk.lastIndex());
    this.obs.send(this, m);
  }

  private restore(s: Snapshot): void {
    if (s.index < this.applied) violation(`n${this.id} restores a snapshot at ${s.index} below its applied index ${this.applied}`);
    this.obs.invariants.snapshot(this.id, s);
    this.kv = decodeKv(s.data);
    this.applied = s.index;
    this.obs.restored(this, s);
  }

  private apply(e: Entry): void {
    if (e.index !== this.applied + 1) violation(`n${this.id} applies index ${e.index} right after ${this.applied}`);
    if (this.obs.invariants.contractChecks && e.index > this.disk.hardState.commit) {
      violation(`n${this.id} applies index ${e.index} before it is committed (persisted commit ${this.disk.hardState.commit})`);
    }
    if (this.disk.term(e.index) !== e.term) violation(`n${this.id} applies index ${e.index} term ${e.term}, which its disk does not hold`);
    this.obs.invariants.applied(this.id, e);
    this.applied = e.index;
    if (e.type === 'normal') {
      const c = decodeCommand(e.data);
      if (c !== null) this.kv.set(c.key, c.value);
    }
    this.obs.applied(this, e);
  }

  /** Step 4: a read is served once the state machine has applied its index. */
  private serveReads(): void {
    for (const [context, index] of this.reads) {
      if (index !== null && this.applied >= index) {
        this.reads.delete(context);
        this.obs.readServed(this, context);
      }
    }
  }

  /** Term, commit and applied never go back within one life; the core agrees with the owner. */
  private afterAdvance(raw: RawNode): void {
    const st = raw.status();
    const last = this.last;
    if (last !== null) {
      if (st.term < last.term) violation(`n${this.id} term goes back from ${last.term} to ${st.term}`);
      if (st.commit < last.commit) violation(`n${this.id} commit goes back from ${last.commit} to ${st.commit}`);
      if (st.applied < last.applied) violation(`n${this.id} applied goes back from ${last.applied} to ${st.applied}`);
    }
    if (st.applied !== this.applied) violation(`n${this.id} core says applied ${st.applied} but the owner applied ${this.applied}`);
    if (this.obs.invariants.contractChecks && st.applied > st.commit) violation(`n${this.id} applied ${st.applied} is beyond commit ${st.commit}`);
    this.last = st;
    this.role = st.role;
    this.term = st.term;
    if (st.role === 'leader' && this.leaderTerm !== st.term) {
      this.leaderTerm = st.term;
      this.obs.invariants.leaderElected(this.id, st.term, raw.log(), raw.snapshot());
      this.obs.leaderElected(this, st.term);
    }
    this.obs.statusSeen(this, st);
  }

  /** Takes a snapshot at the applied index, stores it and compacts up to `tail` entries before it. */
  takeSnapshot(tail: number): Snapshot | null {
    const raw = this.raw;
    if (raw === null || this.applied <= this.disk.snapshotIndex()) return null;
    const s = raw.createSnapshot(encodeKv(this.kv));
    if (s.index !== this.applied) violation(`n${this.id} created a snapshot at ${s.index} but has applied ${this.applied}`);
    this.obs.invariants.snapshot(this.id, s);
    this.disk.installOwnSnapshot(s);
    const st = raw.status();
    const compactTo = Math.max(s.index - tail, st.firstIndex - 1);
    if (compactTo >= st.firstIndex) raw.compact(compactTo);
    return s;
  }
}
