// The safety properties the simulator checks as the run goes, incrementally (Raft paper §5.2-§5.4
// and Figure 3; thesis §3.6 and §6.4): election safety, log matching, leader completeness,
// state machine safety, and that durable state only moves forward and backs what was sent.
import type { Entry, HardState, Message, NodeId, Snapshot } from '../../../src/raft/core/types';
import { describeData, sameBytes } from './sim-kv';

/** A broken safety property; aborts the seed. */
export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

/** Throws a SimViolation. */
export function violation(message: string): never {
  throw new SimViolation(message);
}

interface LogRecord {
  readonly data: Uint8Array;
  prevTerm: number | undefined;
  readonly node: NodeId;
}

/** Global knowledge gathered across nodes and crashes, checked on every event. */
export class Invariants {
  /** Election safety: the one leader of each term. */
  private readonly leaders = new Map<number, NodeId>();
  /** Log matching: every (index, term) ever persisted anywhere, with its data and previous term. */
  private readonly logRecords = new Map<string, LogRecord>();
  /** State machine safety: the entry applied at each index, by whichever node applied it first. */
  private readonly appliedEntries = new Map<number, Entry>();
  /** Committed entries never lost: the term at each index some node has known committed. */
  private readonly committedTerms = new Map<number, { term: number; node: NodeId }>();
  /** Highest index known committed anywhere. */
  maxCommitted = 0;
  /** Snapshot data seen at each index (created or installed). */
  private readonly snapshots = new Map<number, Snapshot>();
  /** Highest index applied anywhere. */
  maxApplied = 0;
  leadersElected = 0;
  maxTerm = 0;

  /**
   * `contractChecks`: also check that each owner-visible step obeys the Ready contract (votes and
   * acks backed by the disk, only committed entries applied). Off, only the paper's end-to-end
   * properties judge, which shows what a contract breach would go on to break.
   */
  constructor(readonly contractChecks = true) {}

  /** At most one leader per term, and a new leader holds every entry applied so far (§5.4). */
  leaderElected(id: NodeId, term: number, log: readonly Entry[], snap: Snapshot | null): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) violation(`two leaders in term ${term}: n${other} and n${id}`);
    if (other === undefined) this.leadersElected++;
    this.leaders.set(term, id);
    this.maxTerm = Math.max(this.maxTerm, term);
    const first = log.length > 0 ? log[0].index : (snap?.index ?? 0) + 1;
    const snapIndex = snap?.index ?? 0;
    // Indexes below both the log and the snapshot are covered by the snapshot: nothing to check.
    for (let i = Math.max(1, Math.min(first, snapIndex)); i <= Math.max(this.maxApplied, this.maxCommitted); i++) {
      const c = this.committedTerms.get(i);
      const applied = this.appliedEntries.get(i) ?? (c === undefined ? undefined : { term: c.term });
      if (i < first) {
        if (i > snapIndex) violation(`leader n${id} of term ${term} lacks committed index ${i}: its log starts at ${first}, snapshot at ${snapIndex}`);
        if (i === snapIndex && applied !== undefined && snap !== null && snap.term !== applied.term) {
          violation(`leader n${id} of term ${term} has a snapshot at ${i} of term ${snap.term}, but index ${i} was committed with term ${applied.term}`);
        }
        continue;
      }
      const e = log[i - first] as Entry | undefined;
      if (e === undefined) violation(`leader n${id} of term ${term} lacks committed index ${i}: its last index is ${first + log.length - 1}`);
      if (applied !== undefined && e.term !== applied.term) {
        violation(`leader n${id} of term ${term} has term ${e.term} at index ${i}, which was committed with term ${applied.term}`);
      }
    }
  }

  /** Log matching (§5.3): the same (index, term) means the same entry and the same previous term. */
  persisted(id: NodeId, entries: readonly Entry[], termAt: (i: number) => number | undefined): void {
    for (const e of entries) {
      const key = `${e.index}/${e.term}`;
      const prevTerm = termAt(e.index - 1);
      const rec = this.logRecords.get(key);
      if (rec === undefined) {
        this.logRecords.set(key, { data: e.data, prevTerm, node: id });
        continue;
      }
      if (!sameBytes(rec.data, e.data)) {
        violation(`log matching: index ${e.index} term ${e.term} holds ${describeData(e.data)} on n${id} but ${describeData(rec.data)} on n${rec.node}`);
      }
      if (prevTerm !== undefined && rec.prevTerm !== undefined && prevTerm !== rec.prevTerm) {
        violation(`log matching: before index ${e.index} term ${e.term}, n${id} has term ${prevTerm} but n${rec.node} has term ${rec.prevTerm}`);
      }
      if (rec.prevTerm === undefined) rec.prevTerm = prevTerm;
    }
  }

  /**
   * Committed entries are never lost (§5.4): whatever index a node knows committed holds the same
   * term on every node that knows it committed, in every later term, across crashes.
   */
  committed(id: NodeId, index: number, term: number): void {
    const first = this.committedTerms.get(index);
    if (first === undefined) {
      this.committedTerms.set(index, { term, node: id });
      this.maxCommitted = Math.max(this.maxCommitted, index);
    } else if (first.term !== term) {
      violation(`n${id} has index ${index} committed with term ${term}, but n${first.node} had it committed with term ${first.term}: a committed entry was lost`);
    }
  }

  /** State machine safety (§5.4.3): every node applies the same entry at an index. */
  applied(id: NodeId, e: Entry): void {
    const first = this.appliedEntries.get(e.index);
    if (first === undefined) {
      this.appliedEntries.set(e.index, e);
      this.maxApplied = Math.max(this.maxApplied, e.index);
      return;
    }
    if (first.term !== e.term || first.type !== e.type || !sameBytes(first.data, e.data)) {
      violation(`n${id} applies index ${e.index} term ${e.term} ${describeData(e.data)}, but index ${e.index} was applied as term ${first.term} ${describeData(first.data)}`);
    }
  }

  /** A snapshot (created or installed) agrees with what was applied and with other snapshots at its index. */
  snapshot(id: NodeId, s: Snapshot): void {
    const applied = this.appliedEntries.get(s.index);
    if (applied !== undefined && applied.term !== s.term) {
      violation(`n${id} has a snapshot at ${s.index} of term ${s.term}, but index ${s.index} was applied with term ${applied.term}`);
    }
    const seen = this.snapshots.get(s.index);
    if (seen === undefined) {
      this.snapshots.set(s.index, s);
      this.maxApplied = Math.max(this.maxApplied, s.index);
    } else if (seen.term !== s.term || !sameBytes(seen.data, s.data)) {
      violation(`n${id} has a snapshot at ${s.index} whose term or state differs from an earlier snapshot at that index`);
    }
  }

  /**
   * Durability (Ready contract step 2): a granted vote and an append acknowledgement may only
   * leave a node once the state that backs them is on its disk.
   */
  sending(id: NodeId, m: Message, disk: HardState, diskLastIndex: number): void {
    if (!this.contractChecks) return;
    if (m.type === 'voteResp' && !m.reject) {
      if (disk.term < m.term || (disk.term === m.term && disk.vote !== m.to)) {
        violation(`n${id} grants its vote to n${m.to} in term ${m.term} but its disk holds term ${disk.term} vote n${disk.vote}`);
      }
    }
    if (m.type === 'appResp' && !m.reject && disk.term === m.term && diskLastIndex < m.index) {
      violation(`n${id} acknowledges index ${m.index} in term ${m.term} but its disk holds entries only up to ${diskLastIndex}`);
    }
  }

  /** Number of distinct entries applied (indexes applied anywhere). */
  appliedCount(): number {
    return this.appliedEntries.size;
  }

  /** The entry applied at an index, if any node applied it. */
  appliedAt(index: number): Entry | undefined {
    return this.appliedEntries.get(index);
  }
}
