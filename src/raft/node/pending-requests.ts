import { UnavailableError } from '../../types/errors';
import type { Entry } from '../core/types';

interface PendingProposal<R> {
  term: number;
  /** Clock time after which the proposal is rejected as timed out. */
  deadline: number;
  resolve(r: R | undefined): void;
  reject(err: Error): void;
}

interface PendingRead {
  /** The commit index the leader confirmed; null until its answer arrives. */
  index: number | null;
  deadline: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The proposals and reads a RaftNode's callers wait on, bounded in number, each settled exactly
 * once: by its entry's apply, by the read's index being applied, by a failure, or at its deadline.
 */
export class PendingRequests<R> {
  private readonly proposals = new Map<number, PendingProposal<R>>();
  private readonly reads = new Map<string, PendingRead>();

  constructor(private readonly limit: number, private readonly timeoutMs: number) {}

  /** Undefined when there is room, else the error to refuse a new request with. */
  full(): UnavailableError | undefined {
    if (this.proposals.size + this.reads.size < this.limit) return undefined;
    return new UnavailableError(`raft node has ${this.limit} proposals or reads pending`, { hint: 'retry later; the cluster is overloaded or has no quorum' });
  }

  /** Waits for the entry appended at (index, term) to be applied. */
  proposal(index: number, term: number, now: number): Promise<R | undefined> {
    return new Promise((resolve, reject) => this.proposals.set(index, { term, deadline: now + this.timeoutMs, resolve, reject }));
  }

  /** Waits for the read `context` to be confirmed by the leader and its index applied. */
  read(context: string, now: number): Promise<void> {
    return new Promise((resolve, reject) => this.reads.set(context, { index: null, deadline: now + this.timeoutMs, resolve, reject }));
  }

  /** Entry `e` was applied with `result`: its proposer learns it, or that another entry took its place. */
  applied(e: Entry, result: R | undefined): void {
    const p = this.proposals.get(e.index);
    if (p === undefined) return;
    this.proposals.delete(e.index);
    if (p.term === e.term) p.resolve(result);
    else p.reject(new UnavailableError(`proposal lost: index ${e.index} holds an entry of term ${e.term}, not ${p.term}`));
  }

  /** A snapshot replaced the state up to `index`: proposals at or below it cannot learn their outcome. */
  overtaken(index: number): void {
    for (const [i, p] of this.proposals) {
      if (i > index) continue;
      this.proposals.delete(i);
      p.reject(new UnavailableError(`proposal at index ${i} was overtaken by a snapshot; its outcome is unknown`));
    }
  }

  /** The leader confirmed read `context` at commit index `index`. */
  readConfirmed(context: string, index: number): void {
    const r = this.reads.get(context);
    if (r !== undefined) r.index = index;
  }

  /** Resolves the confirmed reads whose index is applied. */
  releaseReads(applied: number): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === null || r.index > applied) continue;
      this.reads.delete(ctx);
      r.resolve();
    }
  }

  /** Rejects every proposal and read. */
  failAll(err: Error): void {
    for (const p of this.proposals.values()) p.reject(err);
    this.proposals.clear();
    this.failReads(err, false);
  }

  /** Rejects pending reads (only those no leader has answered yet when `unansweredOnly`). */
  failReads(err: Error, unansweredOnly: boolean): void {
    for (const [ctx, r] of this.reads) {
      if (unansweredOnly && r.index !== null) continue;
      this.reads.delete(ctx);
      r.reject(err);
    }
  }

  /** Rejects what is past its deadline, so no promise ever hangs. */
  expire(now: number): void {
    // Proposals are in index order and got their deadlines in that order: stop at the first live one.
    for (const [index, p] of this.proposals) {
      if (p.deadline > now) break;
      this.proposals.delete(index);
      p.reject(new UnavailableError(`proposal at index ${index} not applied within ${this.timeoutMs} ms; its outcome is unknown`));
    }
    for (const [ctx, r] of this.reads) {
      if (r.deadline > now) continue;
      this.reads.delete(ctx);
      r.reject(new UnavailableError(`read barrier not confirmed within ${this.timeoutMs} ms; retry`));
    }
  }
}
