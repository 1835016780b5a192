import type { Clock } from '../../types/clock';
import { ShoalError, UnavailableError, type ErrorCode } from '../../types/errors';
import type { Entry } from '../../raft/core/types';
import type { ReplicatedLog, StateMachine } from '../replicated-log';
import { decodeSnapshot, decodeTransaction, encodeSnapshot, encodeTransaction, encodedActionBytes, type StoreAction } from './actions';
import { MemoryStore, type StoreChange } from './memory-store';

/** What applying one entry produced: its version, or the error that refused it (the same on every manager). */
export type ApplyResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly hint?: string };

/** A batch of applied changes; `reset` means the whole store was replaced (snapshot restore). */
export interface StoreEvent {
  readonly version: number;
  readonly changes: readonly StoreChange[];
  readonly reset: boolean;
  /** The leader's clock when it proposed the transaction (the same on every manager); 0 on reset. */
  readonly timeMs: number;
}

/** Bounds on one Raft entry of a batched write. */
export interface BatchLimits {
  readonly actionsMax: number;
  readonly bytesMax: number;
}

/** Default bounds: entries stay well below the Raft message size limit. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { actionsMax: 500, bytesMax: 512 * 1024 };

/** Outcome of a batched write: how many actions committed and the errors of refused batches. */
export interface BatchOutcome {
  readonly committed: number;
  readonly errors: readonly ShoalError[];
}

/** Splits actions into consecutive groups bounded by count and encoded bytes (at least one action each). */
export function splitActions(actions: readonly StoreAction[], limits: BatchLimits): StoreAction[][] {
  const out: StoreAction[][] = [];
  let cur: StoreAction[] = [];
  let bytes = 0;
  for (const a of actions) {
    const b = encodedActionBytes(a);
    if (cur.length > 0 && (cur.length >= limits.actionsMax || bytes + b > limits.bytesMax)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(a);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * The replicated store: a MemoryStore that changes only by applying Raft entries (so every
 * manager holds the same objects), plus the write path that proposes transactions.
 */
export class Store implements StateMachine<ApplyResult> {
  readonly view = new MemoryStore();
  private readonly watchers = new Set<(e: StoreEvent) => void>();

  constructor(private readonly log: ReplicatedLog, private readonly clock: Clock, private readonly limits = DEFAULT_BATCH_LIMITS) {}

  // ---- StateMachine ----

  apply(entry: Entry): ApplyResult {
    if (entry.type !== 'normal' || entry.data.length === 0) {
      this.view.version = Math.max(this.view.version, entry.index);
      return { ok: true, version: entry.index };
    }
    const tx = decodeTransaction(entry.data);
    const out = this.view.apply(tx, entry.index, { adopt: true });
    if (out instanceof ShoalError) return { ok: false, code: out.code, message: out.message, hint: out.hint };
    if (out.length > 0) this.emit({ version: entry.index, changes: out, reset: false, timeMs: tx.timestampMs });
    return { ok: true, version: entry.index };
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.view.all(), this.view.version);
  }

  restore(data: Uint8Array): void {
    const s = decodeSnapshot(data);
    this.view.reset(s.objects, s.version);
    this.emit({ version: s.version, changes: [], reset: true, timeMs: 0 });
  }

  // ---- watch ----

  /** Calls fn after every applied transaction, synchronously and in log order; returns an unsubscribe function. */
  watch(fn: (e: StoreEvent) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private emit(e: StoreEvent): void {
    for (const w of [...this.watchers]) {
      try { w(e); } catch (err) { queueMicrotask(() => { throw err; }); }
    }
  }

  // ---- writes ----

  /** Commits actions as one atomic transaction; resolves with its version or throws the typed error that refused it. */
  async write(actions: readonly StoreAction[]): Promise<number> {
    if (actions.length === 0) return this.view.version;
    if (!this.log.isLeader()) throw new UnavailableError('this manager is not the leader', { hint: 'send the request to the leader' });
    const res = await this.log.propose(encodeTransaction({ actions, timestampMs: Math.floor(this.clock.now()) }));
    const r = res as ApplyResult | undefined;
    if (r === undefined || typeof r !== 'object' || !('ok' in r)) throw new ShoalError('Internal', 'the store did not report the outcome of a write');
    if (!r.ok) throw new ShoalError(r.code, r.message, r.hint === undefined ? undefined : { hint: r.hint });
    return r.version;
  }

  /**
   * Commits many actions as several bounded entries, each atomic on its own (DESIGN.md §4). The
   * batches are proposed together so they pipeline through Raft; refused batches are reported.
   */
  async writeBatched(actions: readonly StoreAction[]): Promise<BatchOutcome> {
    const batches = splitActions(actions, this.limits);
    const results = await Promise.allSettled(batches.map((b) => this.write(b)));
    let committed = 0;
    const errors: ShoalError[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') committed += batches[i].length;
      else errors.push(ShoalError.is(r.reason) ? r.reason : new ShoalError('Internal', String(r.reason), { cause: r.reason }));
    });
    return { committed, errors };
  }
}
