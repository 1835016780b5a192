// Linearizability checker for the Raft simulator's client histories: Wing & Gong's search
// with Lowe's improvements (just-in-time linearization over a linked list of call/return
// events, and a cache of (linearized set, register state) that prunes revisited configurations).
// Keys are independent registers, so each key is checked on its own (linearizability is
// compositional: Herlihy & Wing, and Lowe's "P-compositionality").
import { InvalidArgumentError } from '../../../src/types/errors';

/** One client operation on a key-value store whose keys are independent registers. */
export interface Operation {
  readonly client: number;          // client id (a client has at most one op in flight)
  readonly kind: 'put' | 'get';
  readonly key: string;
  readonly value: string | null;    // put: value written; get: value observed (null = key absent)
  readonly invokedAt: number;       // logical/simulated time of invocation
  readonly completedAt: number | null; // time of response; null = outcome unknown (a put that timed out may or may not have taken effect, at any time after invokedAt; a get with unknown outcome carries no information and may be ignored)
}

/** The verdict on a history: ok, or the first failing key with a readable excerpt. */
export type CheckResult = { ok: true } | { ok: false; key: string; explanation: string };

/** Default bound on distinct (linearized set, state) configurations explored per key. */
export const DEFAULT_MAX_STATES = 1_000_000;

/** How many ops of each part of a failure excerpt to show. */
const EXCERPT_OPS_MAX = 8;

/** Checks that the history is linearizable for a map of independent registers, initially absent. */
export function checkLinearizable(ops: readonly Operation[], options?: { maxStates?: number }): CheckResult {
  const maxStates = options?.maxStates ?? DEFAULT_MAX_STATES;
  if (!(maxStates > 0) || !Number.isSafeInteger(maxStates)) {
    throw new InvalidArgumentError(`maxStates must be a positive integer, got ${maxStates}`);
  }
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    validateOperation(op);
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  // Sorted so that the key reported on failure does not depend on the input's order.
  for (const key of [...byKey.keys()].sort()) {
    const failure = checkKey(key, byKey.get(key)!, maxStates);
    if (failure !== null) return { ok: false, key, explanation: failure };
  }
  return { ok: true };
}

function validateOperation(op: Operation): void {
  if (!Number.isFinite(op.invokedAt)) {
    throw new InvalidArgumentError(`operation of client ${op.client} on key ${JSON.stringify(op.key)} has invokedAt ${op.invokedAt}; it must be finite`);
  }
  if (op.completedAt !== null && !(op.completedAt >= op.invokedAt && Number.isFinite(op.completedAt))) {
    throw new InvalidArgumentError(
      `operation of client ${op.client} on key ${JSON.stringify(op.key)} completes at ${op.completedAt}, before its invocation at ${op.invokedAt}`,
    );
  }
}

/** Returns null if the key's sub-history is linearizable, else an explanation. */
function checkKey(key: string, keyOps: readonly Operation[], maxStates: number): string | null {
  const ops = relevantOperations(keyOps);
  const result = search(ops, maxStates, key);
  return result === null ? null : explainFailure(key, ops, result);
}

/**
 * Drops ops that cannot change the verdict: gets with unknown outcome (they observed nothing),
 * and pending puts whose value no completed get observed. Such a put, if it took effect, is
 * followed by no read before the next put (no read returns its value), so removing it from any
 * linearization leaves a valid one: "never took effect" is always an option for it.
 */
function relevantOperations(ops: readonly Operation[]): Operation[] {
  const observed = new Set<string | null>();
  for (const op of ops) {
    if (op.kind === 'get' && op.completedAt !== null) observed.add(op.value);
  }
  return ops.filter((op) => op.completedAt !== null || (op.kind === 'put' && observed.has(op.value)));
}

/**
 * Call and return events in time order as a doubly linked list (entry 0 is the head sentinel,
 * -1 is the end). Lifting an op unlinks its events; unlifting in reverse order relinks them
 * ("dancing links"), so backtracking costs O(1).
 */
class EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** For each entry, the op it belongs to. */
  readonly op: Int32Array;
  /** For a call entry, its return entry (-1 if the op is pending); -2 marks a return entry. */
  readonly returnEntry: Int32Array;

  constructor(ops: readonly Operation[]) {
    const events: { time: number; isCall: boolean; op: number }[] = [];
    ops.forEach((op, i) => {
      events.push({ time: op.invokedAt, isCall: true, op: i });
      // A pending op's response is at +infinity: it has no return event at all.
      if (op.completedAt !== null) events.push({ time: op.completedAt, isCall: false, op: i });
    });
    // Calls before returns at equal times: touching intervals count as concurrent (lenient).
    events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
    const size = events.length + 1;
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.op = new Int32Array(size).fill(-1);
    this.returnEntry = new Int32Array(size).fill(-2);
    const callEntryOf = new Int32Array(ops.length);
    events.forEach((ev, i) => {
      const entry = i + 1;
      this.op[entry] = ev.op;
      if (ev.isCall) {
        callEntryOf[ev.op] = entry;
        this.returnEntry[entry] = -1;
      } else {
        this.returnEntry[callEntryOf[ev.op]] = entry;
      }
    });
    for (let e = 0; e < size; e++) {
      this.next[e] = e + 1 < size ? e + 1 : -1;
      this.prev[e] = e - 1;
    }
  }

  isCall(entry: number): boolean {
    return this.returnEntry[entry] !== -2;
  }

  lift(callEntry: number): void {
    this.unlink(callEntry);
    const ret = this.returnEntry[callEntry];
    if (ret >= 0) this.unlink(ret);
  }

  unlift(callEntry: number): void {
    const ret = this.returnEntry[callEntry];
    if (ret >= 0) this.relink(ret);
    this.relink(callEntry);
  }

  private unlink(e: number): void {
    const n = this.next[e];
    this.next[this.prev[e]] = n;
    if (n >= 0) this.prev[n] = this.prev[e];
  }

  private relink(e: number): void {
    const n = this.next[e];
    this.next[this.prev[e]] = e;
    if (n >= 0) this.prev[n] = e;
  }
}

/** Where the search got furthest: the linearized ops in order and the register's state then. */
interface DeepestPoint {
  readonly order: readonly number[];
  readonly state: string | null;
}

/** One linearized op on the search stack, with what undoing it needs. */
interface Frame {
  readonly entry: number;
  readonly stateBefore: number;
}

/** The search's mutable configuration for one key. */
interface SearchContext {
  readonly ops: readonly Operation[];
  readonly list: EventList;
  /** Register values interned: 0 is "absent"; valueIdOf[op] is the op's value's id. */
  readonly valueIdOf: Int32Array;
  readonly values: readonly (string | null)[];
  /** The set of linearized ops, 16 bits per word so that it converts to a compact string key. */
  readonly linearized: Uint16Array;
  readonly seen: Set<string>;
  readonly stack: Frame[];
  state: number;
  /** Completed ops not yet linearized; the search succeeds when this reaches zero. */
  remaining: number;
  deepest: DeepestPoint;
}

function newContext(ops: readonly Operation[]): SearchContext {
  const values: (string | null)[] = [null];
  const idOf = new Map<string | null, number>([[null, 0]]);
  const valueIdOf = new Int32Array(ops.length);
  ops.forEach((op, i) => {
    let id = idOf.get(op.value);
    if (id === undefined) {
      id = values.length;
      values.push(op.value);
      idOf.set(op.value, id);
    }
    valueIdOf[i] = id;
  });
  return {
    ops,
    list: new EventList(ops),
    valueIdOf,
    values,
    linearized: new Uint16Array(Math.ceil(ops.length / 16)),
    seen: new Set<string>(),
    stack: [],
    state: 0,
    remaining: ops.filter((op) => op.completedAt !== null).length,
    deepest: { order: [], state: null },
  };
}

/**
 * Depth-first search for a linearization. Only ops whose call precedes the first remaining
 * return event are candidates (every unlinearized completed op must come after them, Lowe's
 * just-in-time linearization). Returns null on success, else the deepest point reached.
 */
function search(ops: readonly Operation[], maxStates: number, key: string): DeepestPoint | null {
  const ctx = newContext(ops);
  const list = ctx.list;
  let entry = list.next[0];
  while (ctx.remaining > 0) {
    if (entry >= 0 && list.isCall(entry)) {
      if (tryLinearize(ctx, entry)) {
        if (ctx.seen.size > maxStates) {
          throw new Error(`linearizability search limit exceeded for key ${JSON.stringify(key)}: more than ${maxStates} states over ${ops.length} ops`);
        }
        entry = list.next[0];
      } else {
        entry = list.next[entry];
      }
      continue;
    }
    // A return event (or, defensively, the end of the list): its op must be linearized
    // before anything later, and no candidate worked — undo the last choice.
    const top = backtrack(ctx);
    if (top === null) return ctx.deepest;
    entry = list.next[top];
  }
  return null;
}

/** Linearizes the op of a call entry if the register allows it and the result is new. */
function tryLinearize(ctx: SearchContext, entry: number): boolean {
  const opIndex = ctx.list.op[entry];
  const op = ctx.ops[opIndex];
  const valueId = ctx.valueIdOf[opIndex];
  if (op.kind === 'get' && valueId !== ctx.state) return false;
  const nextState = op.kind === 'put' ? valueId : ctx.state;
  const word = opIndex >>> 4;
  const bit = 1 << (opIndex & 15);
  ctx.linearized[word] |= bit;
  const cacheKey = `${String.fromCharCode(...ctx.linearized)}:${nextState}`;
  if (ctx.seen.has(cacheKey)) {
    ctx.linearized[word] &= ~bit;
    return false;
  }
  ctx.seen.add(cacheKey);
  ctx.stack.push({ entry, stateBefore: ctx.state });
  ctx.state = nextState;
  ctx.list.lift(entry);
  if (op.completedAt !== null) ctx.remaining--;
  return true;
}

/** Undoes the most recent linearization; returns its call entry, or null if none is left. */
function backtrack(ctx: SearchContext): number | null {
  if (ctx.stack.length > ctx.deepest.order.length) {
    ctx.deepest = { order: ctx.stack.map((f) => ctx.list.op[f.entry]), state: ctx.values[ctx.state] };
  }
  const top = ctx.stack.pop();
  if (top === undefined) return null;
  const opIndex = ctx.list.op[top.entry];
  ctx.linearized[opIndex >>> 4] &= ~(1 << (opIndex & 15));
  ctx.state = top.stateBefore;
  ctx.list.unlift(top.entry);
  if (ctx.ops[opIndex].completedAt !== null) ctx.remaining++;
  return top.entry;
}

/** The failure excerpt: the end of the longest linearizable prefix and the ops that could not follow it. */
function explainFailure(key: string, ops: readonly Operation[], deepest: DeepestPoint): string {
  const placed = new Set(deepest.order);
  const unplaced = ops.filter((_, i) => !placed.has(i));
  // The candidates at the deepest point: invoked no later than the earliest remaining response.
  const firstResponse = Math.min(...unplaced.map((op) => op.completedAt ?? Infinity));
  const candidates = unplaced.filter((op) => op.invokedAt <= firstResponse).sort((a, b) => a.invokedAt - b.invokedAt);
  const prefix = deepest.order.slice(-EXCERPT_OPS_MAX).map((i) => ops[i]);
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable: at most ${deepest.order.length} of ${ops.length} ops linearize, ` +
      `leaving the register ${deepest.state === null ? 'absent' : `holding ${JSON.stringify(deepest.state)}`}.`,
    `longest linearizable prefix (last ${prefix.length} of ${deepest.order.length}):`,
    ...(prefix.length === 0 ? ['  (none)'] : prefix.map((op) => `  ${formatOperation(op)}`)),
    'none of these can come next:',
    ...candidates.slice(0, EXCERPT_OPS_MAX).map((op) => `  ${formatOperation(op)}`),
  ];
  if (candidates.length > EXCERPT_OPS_MAX) lines.push(`  ... and ${candidates.length - EXCERPT_OPS_MAX} more`);
  return lines.join('\n');
}

/** One op as a line: who, what, and its interval. */
export function formatOperation(op: Operation): string {
  const value = op.value === null ? 'absent' : JSON.stringify(op.value);
  const what = op.kind === 'put' ? `put ${value}` : `get -> ${value}`;
  const until = op.completedAt === null ? '∞)' : `${op.completedAt}]`;
  return `client ${op.client} ${what} [${op.invokedAt}, ${until}`;
}
