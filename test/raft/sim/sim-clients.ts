// The client model: a few clients, each with at most one operation in flight, putting unique
// values and reading keys through ReadIndex at random nodes. What they observe becomes the
// history the linearizability checker judges.
import type { Entry, Snapshot } from '../../../src/raft/core/types';
import { ShoalError } from '../../../src/types/errors';
import type { SeededRandom } from '../../../src/types/random';
import { violation } from './invariants';
import type { Operation } from './linearizability';
import { decodeCommand, encodeCommand } from './sim-kv';
import type { SimNode } from './sim-node';

/** The keys clients use: few, so that operations contend. */
export const CLIENT_KEYS = ['k0', 'k1', 'k2', 'k3'];

/** Upper bound on the filler in a put's entry (sizes vary so appends split at the byte limit). */
const PAD_BYTES_MAX = 200;

/** What the client model needs from the simulation. */
export interface ClientEnv {
  readonly random: SeededRandom;
  /** A strictly increasing logical time for invocations and responses. */
  stamp(): number;
  /** The node a client talks to next, or null when none is up. */
  pickNode(): SimNode | null;
  trace(text: string): void;
}

interface InFlight {
  readonly client: number;
  readonly opId: number;
  readonly kind: 'put' | 'get';
  readonly key: string;
  readonly value: string | null;
  readonly invokedAt: number;
  readonly node: SimNode;
  readonly incarnation: number;
  /** put: where the proposal went; get: 0. */
  readonly index: number;
  readonly term: number;
  readonly context: string;
  readonly deadlineStep: number;
}

/** Counts of what the clients saw. */
export interface ClientStats {
  putsOk: number;
  putsUnknown: number;
  putsFailed: number;
  readsServed: number;
  readsLost: number;
  rejected: number;
}

/** Clients and their history. */
export class ClientModel {
  readonly history: Operation[] = [];
  readonly stats: ClientStats = { putsOk: 0, putsUnknown: 0, putsFailed: 0, readsServed: 0, readsLost: 0, rejected: 0 };
  private readonly inFlight: (InFlight | null)[];
  private readonly nextAttemptStep: number[];
  private opSeq = 0;

  constructor(private readonly env: ClientEnv, clients: number, private readonly opRate: number, private readonly opTimeoutSteps: number) {
    this.inFlight = new Array<InFlight | null>(clients).fill(null);
    this.nextAttemptStep = new Array<number>(clients).fill(0);
  }

  /** Times out what waited too long and, if `issuing`, starts new operations. */
  step(step: number, issuing: boolean): void {
    for (let c = 0; c < this.inFlight.length; c++) {
      const op = this.inFlight[c];
      if (op !== null) {
        if (step >= op.deadlineStep) this.giveUp(c, 'timed out');
      } else if (issuing && step >= this.nextAttemptStep[c] && this.env.random.chance(this.opRate)) {
        this.start(c, step);
      }
    }
  }

  private start(c: number, step: number): void {
    const node = this.env.pickNode();
    if (node === null) return;
    const opId = ++this.opSeq;
    const key = this.env.random.pick(CLIENT_KEYS);
    const base = { client: c, opId, key, node, incarnation: node.incarnation, deadlineStep: step + this.opTimeoutSteps };
    try {
      if (this.env.random.chance(0.5)) {
        const value = `c${c}.${opId}`;
        const invokedAt = this.env.stamp();
        const { index, term } = node.core().propose(encodeCommand({ client: c, opId, key, value, padBytes: this.env.random.int(PAD_BYTES_MAX + 1) }));
        this.inFlight[c] = { ...base, kind: 'put', value, invokedAt, index, term, context: '' };
        this.env.trace(`c${c} put ${key}=${value} at n${node.id} -> index ${index} term ${term}`);
      } else {
        const context = `r${c}.${opId}`;
        const invokedAt = this.env.stamp();
        node.startRead(context);
        this.inFlight[c] = { ...base, kind: 'get', value: null, invokedAt, index: 0, term: 0, context };
      }
    } catch (err) {
      // Not the leader, or no leader known: the attempt never happened; try again later.
      if (!ShoalError.is(err)) throw err;
      this.stats.rejected++;
      this.nextAttemptStep[c] = step + 1 + this.env.random.int(20);
    }
  }

  /** A node applied an entry: a put proposed there completes, or is known to have failed. */
  onApplied(node: SimNode, e: Entry): void {
    for (let c = 0; c < this.inFlight.length; c++) {
      const op = this.inFlight[c];
      if (op === null || op.kind !== 'put' || op.node !== node || op.incarnation !== node.incarnation || op.index !== e.index) continue;
      if (e.term !== op.term) {
        // Another entry holds the index: this proposal can never commit.
        this.stats.putsFailed++;
        this.inFlight[c] = null;
        continue;
      }
      const cmd = e.type === 'normal' ? decodeCommand(e.data) : null;
      if (cmd === null || cmd.client !== c || cmd.opId !== op.opId) {
        violation(`n${node.id} applied index ${e.index} term ${e.term}, which is not the put of c${c} proposed there`);
      }
      this.complete(c, op, op.value);
      this.stats.putsOk++;
    }
  }

  /** A node installed a snapshot: puts it covers may or may not be in it. */
  onRestored(node: SimNode, s: Snapshot): void {
    for (let c = 0; c < this.inFlight.length; c++) {
      const op = this.inFlight[c];
      if (op !== null && op.kind === 'put' && op.node === node && op.index <= s.index) this.giveUp(c, `covered by a snapshot at ${s.index}`);
    }
  }

  /** A node served a read: the value is its state machine's now. */
  onReadServed(node: SimNode, context: string): void {
    for (let c = 0; c < this.inFlight.length; c++) {
      const op = this.inFlight[c];
      if (op === null || op.kind !== 'get' || op.context !== context || op.node !== node) continue;
      this.complete(c, op, node.kv.get(op.key) ?? null);
      this.stats.readsServed++;
    }
  }

  /** A node crashed: what waited on it has an unknown outcome. */
  onCrash(node: SimNode): void {
    for (let c = 0; c < this.inFlight.length; c++) {
      if (this.inFlight[c]?.node === node) this.giveUp(c, `n${node.id} crashed`);
    }
  }

  /** Ends the run: every operation still in flight has an unknown outcome. */
  finish(): void {
    for (let c = 0; c < this.inFlight.length; c++) if (this.inFlight[c] !== null) this.giveUp(c, 'run ended');
  }

  /** True when no operation is in flight. */
  idle(): boolean {
    return this.inFlight.every((op) => op === null);
  }

  private complete(c: number, op: InFlight, value: string | null): void {
    this.history.push({ client: c, kind: op.kind, key: op.key, value, invokedAt: op.invokedAt, completedAt: this.env.stamp() });
    this.inFlight[c] = null;
  }

  /** A put with unknown outcome stays in the history (it may take effect later); a get carries no information. */
  private giveUp(c: number, why: string): void {
    const op = this.inFlight[c]!;
    this.inFlight[c] = null;
    if (op.kind === 'put') {
      this.history.push({ client: c, kind: 'put', key: op.key, value: op.value, invokedAt: op.invokedAt, completedAt: null });
      this.stats.putsUnknown++;
      this.env.trace(`c${c} put ${op.key}=${op.value} outcome unknown: ${why}`);
    } else {
      this.stats.readsLost++;
    }
  }
}
