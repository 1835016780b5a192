import { ConflictError, NotFoundError, ShoalError } from '../../types/errors';
import type { Cluster, Node, ObjectKind, Service, Task } from '../../types/objects';
import type { AnyObject, ObjectOfKind, StoreAction, Transaction } from './actions';
import { MultiIndex, SlotIndex, type IdSet } from './indexes';

/** One applied change, as watchers see it. `before` is absent on create, `after` on remove. */
export interface StoreChange {
  readonly kind: ObjectKind;
  readonly id: string;
  readonly before?: AnyObject['object'];
  readonly after?: AnyObject['object'];
}

/**
 * The objects and their indexes (by id, service name, service, node, slot, desired state and
 * observed state). Reads are synchronous; objects handed out are shared and must not be mutated.
 */
export class MemoryStore {
  private readonly objects: { [K in ObjectKind]: Map<string, ObjectOfKind[K]> } = {
    node: new Map(), service: new Map(), task: new Map(), cluster: new Map(),
  };
  private readonly serviceByName = new Map<string, string>();
  private readonly tasksByService = new MultiIndex();
  private readonly tasksByNode = new MultiIndex();
  private readonly tasksBySlot = new SlotIndex();
  private readonly tasksByDesiredState = new MultiIndex();
  private readonly tasksByState = new MultiIndex();
  /** The Raft index of the last applied transaction. */
  version = 0;

  get<K extends ObjectKind>(kind: K, id: string): ObjectOfKind[K] | undefined {
    return this.objects[kind].get(id);
  }

  list<K extends ObjectKind>(kind: K): ObjectOfKind[K][] {
    return [...this.objects[kind].values()] as ObjectOfKind[K][];
  }

  count(kind: ObjectKind): number {
    return this.objects[kind].size;
  }

  serviceNamed(name: string): Service | undefined {
    const id = this.serviceByName.get(name);
    return id === undefined ? undefined : this.objects.service.get(id);
  }

  tasksOfService(serviceId: string): Task[] {
    return this.tasksIn(this.tasksByService.get(serviceId));
  }

  tasksOfNode(nodeId: string): Task[] {
    return this.tasksIn(this.tasksByNode.get(nodeId));
  }

  tasksOfSlot(serviceId: string, slot: number): Task[] {
    return this.tasksIn(this.tasksBySlot.get(serviceId, slot));
  }

  tasksWithDesiredState(state: number): Task[] {
    return this.tasksIn(this.tasksByDesiredState.get(state));
  }

  tasksWithState(state: number): Task[] {
    return this.tasksIn(this.tasksByState.get(state));
  }

  /** How many tasks are in an observed state (no array built). */
  countTasksWithState(state: number): number {
    return this.tasksByState.get(state).size;
  }

  /** The cluster object, if the cluster has been initialized. */
  cluster(): Cluster | undefined {
    return this.objects.cluster.values().next().value;
  }

  nodes(): Node[] {
    return this.list('node');
  }

  private tasksIn(ids: IdSet): Task[] {
    const out: Task[] = [];
    for (const id of ids) {
      const t = this.objects.task.get(id);
      if (t !== undefined) out.push(t);
    }
    return out;
  }

  /** Every object, sorted by kind and id (for snapshots and replica comparison). */
  all(): AnyObject[] {
    const out: AnyObject[] = [];
    for (const kind of ['cluster', 'node', 'service', 'task'] as const) {
      const ids = [...this.objects[kind].keys()].sort();
      for (const id of ids) out.push({ kind, object: this.objects[kind].get(id) } as AnyObject);
    }
    return out;
  }

  /** Replaces the whole content (restore from a snapshot). */
  reset(objects: readonly AnyObject[], version: number): void {
    for (const m of Object.values(this.objects)) m.clear();
    this.serviceByName.clear();
    for (const ix of [this.tasksByService, this.tasksByNode, this.tasksBySlot, this.tasksByDesiredState, this.tasksByState]) ix.clear();
    for (const o of objects) this.put(o);
    this.version = version;
  }

  /**
   * Applies a transaction at Raft index `version`: all actions or none. Returns the changes, or
   * the error that refused the transaction (stale version, missing object, duplicate name or id).
   * With `adopt`, the created and updated objects were decoded for this call alone and are kept
   * as they are (their meta stamped) rather than copied.
   */
  apply(tx: Transaction, version: number, opts: { adopt?: boolean } = {}): StoreChange[] | ShoalError {
    const refused = this.check(tx.actions);
    if (refused !== null) {
      this.version = version;
      return refused;
    }
    const changes: StoreChange[] = [];
    for (const a of tx.actions) changes.push(this.applyOne(a, version, tx.timestampMs, opts.adopt === true));
    this.version = version;
    return changes;
  }

  /** Dry-runs the checks of every action against the state as the earlier actions leave it. */
  private check(actions: readonly StoreAction[]): ShoalError | null {
    // Objects created, updated (-1: no further version check) or removed (null) earlier in this transaction.
    const present: { [K in ObjectKind]?: Map<string, number | null> } = {};
    const names = new Map<string, string | null>();
    const versionOf = (kind: ObjectKind, id: string): number | null => {
      const seen = present[kind]?.get(id);
      if (seen !== undefined) return seen;
      return this.objects[kind].get(id)?.meta.version ?? null;
    };
    const mark = (kind: ObjectKind, id: string, v: number | null): void => {
      let m = present[kind];
      if (m === undefined) present[kind] = m = new Map();
      m.set(id, v);
    };
    for (const a of actions) {
      const kind = a.op === 'remove' || a.op === 'patch' ? a.kind : a.target.kind;
      const id = a.op === 'remove' || a.op === 'patch' ? a.id : a.target.object.id;
      const current = versionOf(kind, id);
      if (a.op === 'create') {
        if (current !== null) return new ShoalError('AlreadyExists', `${kind} ${id} already exists`);
        if (a.target.kind === 'service') {
          const name = a.target.object.spec.name;
          const holder = names.has(name) ? names.get(name) : this.serviceByName.get(name);
          if (holder !== undefined && holder !== null) return new ShoalError('AlreadyExists', `a service named ${name} already exists (${holder})`);
          names.set(name, id);
        }
        mark(kind, id, -1);
        continue;
      }
      if (current === null) return new NotFoundError(`${kind} ${id} not found`);
      const expected = a.op === 'update' ? a.target.object.meta.version : a.expectedVersion;
      if (a.op === 'patch' && kind === 'service' && 'spec' in a.fields) return new ShoalError('InvalidArgument', `a patch may not change the spec of service ${id}; update it whole`);
      if (current !== -1 && (a.op !== 'remove' || expected !== 0) && expected !== current) {
        return new ConflictError(`update of ${kind} ${id} refused: it was read at version ${expected} but is now at version ${current}`, { hint: 'read the object again and retry' });
      }
      if (a.op === 'update' && a.target.kind === 'service') {
        const name = a.target.object.spec.name;
        const holder = names.has(name) ? names.get(name) : this.serviceByName.get(name);
        if (holder !== undefined && holder !== null && holder !== id) return new ShoalError('AlreadyExists', `a service named ${name} already exists (${holder})`);
        names.set(name, id);
      }
      mark(kind, id, a.op === 'remove' ? null : -1);
    }
    return null;
  }

  private applyOne(a: StoreAction, version: number, nowMs: number, adopt: boolean): StoreChange {
    if (a.op === 'remove') {
      const before = this.objects[a.kind].get(a.id);
      if (before !== undefined) this.drop({ kind: a.kind, object: before } as AnyObject);
      return { kind: a.kind, id: a.id, before };
    }
    const kind = a.op === 'patch' ? a.kind : a.target.kind;
    const id = a.op === 'patch' ? a.id : a.target.object.id;
    const before = this.objects[kind].get(id);
    const createdAt = before?.meta.createdAt ?? nowMs;
    const meta = { version, createdAt, updatedAt: nowMs };
    let after: AnyObject['object'];
    if (a.op === 'patch') after = { ...before, ...a.fields, id, meta } as AnyObject['object'];
    else if (adopt) {
      // Decoded for this apply alone: keep the object and stamp its meta, instead of copying it.
      after = a.target.object;
      (after as { meta: typeof meta }).meta = meta;
    } else after = { ...a.target.object, id, meta };
    if (kind === 'task' && before !== undefined) this.reindexTask(before as Task, after as Task);
    else {
      if (before !== undefined) this.drop({ kind, object: before } as AnyObject);
      this.put({ kind, object: after } as AnyObject);
    }
    return { kind, id, before, after };
  }

  /** Replaces a task, touching only the indexes whose key changed (most writes change the state alone). */
  private reindexTask(b: Task, a: Task): void {
    this.objects.task.set(a.id, a);
    if (b.serviceId !== a.serviceId) { this.tasksByService.delete(b.serviceId, b.id); this.tasksByService.add(a.serviceId, a.id); }
    if (b.nodeId !== a.nodeId) {
      if (b.nodeId !== '') this.tasksByNode.delete(b.nodeId, b.id);
      if (a.nodeId !== '') this.tasksByNode.add(a.nodeId, a.id);
    }
    if (b.slot !== a.slot || b.serviceId !== a.serviceId) {
      if (b.slot !== 0) this.tasksBySlot.delete(b.serviceId, b.slot, b.id);
      if (a.slot !== 0) this.tasksBySlot.add(a.serviceId, a.slot, a.id);
    }
    if (b.desiredState !== a.desiredState) { this.tasksByDesiredState.delete(b.desiredState, b.id); this.tasksByDesiredState.add(a.desiredState, a.id); }
    if (b.status.state !== a.status.state) { this.tasksByState.delete(b.status.state, b.id); this.tasksByState.add(a.status.state, a.id); }
  }

  private put(o: AnyObject): void {
    (this.objects[o.kind] as Map<string, AnyObject['object']>).set(o.object.id, o.object);
    if (o.kind === 'service') this.serviceByName.set(o.object.spec.name, o.object.id);
    if (o.kind !== 'task') return;
    const t = o.object;
    this.tasksByService.add(t.serviceId, t.id);
    if (t.nodeId !== '') this.tasksByNode.add(t.nodeId, t.id);
    if (t.slot !== 0) this.tasksBySlot.add(t.serviceId, t.slot, t.id);
    this.tasksByDesiredState.add(t.desiredState, t.id);
    this.tasksByState.add(t.status.state, t.id);
  }

  private drop(o: AnyObject): void {
    this.objects[o.kind].delete(o.object.id);
    if (o.kind === 'service' && this.serviceByName.get(o.object.spec.name) === o.object.id) this.serviceByName.delete(o.object.spec.name);
    if (o.kind !== 'task') return;
    const t = o.object;
    this.tasksByService.delete(t.serviceId, t.id);
    if (t.nodeId !== '') this.tasksByNode.delete(t.nodeId, t.id);
    if (t.slot !== 0) this.tasksBySlot.delete(t.serviceId, t.slot, t.id);
    this.tasksByDesiredState.delete(t.desiredState, t.id);
    this.tasksByState.delete(t.status.state, t.id);
  }
}
