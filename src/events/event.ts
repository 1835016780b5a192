import type { StoreChange } from '../manager/store/memory-store';
import { taskStateName, type Cluster, type Node, type Service, type Task, type UpdateState } from '../types/objects';

/** What an event is about. */
export type EventType = 'service' | 'task' | 'node' | 'cluster';

/**
 * One cluster event (stable JSON schema). `id` is `<raft index>.<position of the change in its
 * transaction>`: the same on every manager, so consumers de-duplicate by it across leader changes.
 */
export interface ShoalEvent {
  readonly id: string;
  readonly index: number;
  /** Position of the change within its transaction (0-based). */
  readonly sub: number;
  readonly type: EventType;
  readonly action: string;
  readonly objectId: string;
  /** The leader's clock (ms) when it proposed the transaction. */
  readonly time: number;
  readonly attributes: Readonly<Record<string, string>>;
}

/** The de-duplication id of the change at position sub of the transaction at Raft index. */
export function eventId(index: number, sub: number): string {
  return `${index}.${sub}`;
}

/** Orders events by commit order: Raft index, then position in the transaction. */
export function compareEvents(a: { index: number; sub: number }, b: { index: number; sub: number }): number {
  return a.index - b.index || a.sub - b.sub;
}

const UPDATE_ACTIONS: Record<UpdateState, string> = {
  updating: 'update-started',
  paused: 'update-paused',
  completed: 'update-completed',
  rollback_started: 'rollback-started',
  rollback_paused: 'rollback-paused',
  rollback_completed: 'update-rolled-back',
};

function serviceEvent(before: Service | undefined, after: Service | undefined): { action: string; attributes: Record<string, string> } {
  const s = (after ?? before)!;
  const attributes: Record<string, string> = { name: s.spec.name, mode: s.spec.mode, replicas: String(s.spec.replicas), image: s.spec.task.container.image };
  if (before === undefined) return { action: 'create', attributes };
  if (after === undefined) return { action: 'remove', attributes };
  const st = after.updateStatus;
  if (st !== undefined && st.state !== before.updateStatus?.state) {
    attributes['updatestate.old'] = before.updateStatus?.state ?? '';
    attributes['updatestate.new'] = st.state;
    if (st.message !== '') attributes['updatestate.message'] = st.message;
    return { action: UPDATE_ACTIONS[st.state], attributes };
  }
  if (before.spec.replicas !== after.spec.replicas) attributes['replicas.old'] = String(before.spec.replicas);
  return { action: 'update', attributes };
}

function taskEvent(before: Task | undefined, after: Task | undefined): { action: string; attributes: Record<string, string> } {
  const t = (after ?? before)!;
  const attributes: Record<string, string> = {
    service: t.serviceId,
    node: t.nodeId,
    slot: String(t.slot),
    state: taskStateName(t.status.state),
    desiredState: taskStateName(t.desiredState),
    exitCode: String(t.status.exitCode),
    error: t.status.err,
  };
  if (t.status.message !== '') attributes.message = t.status.message;
  if (before === undefined) return { action: 'create', attributes };
  if (after === undefined) return { action: 'remove', attributes };
  if (before.status.state !== after.status.state) {
    attributes['state.old'] = taskStateName(before.status.state);
    return { action: taskStateName(after.status.state), attributes };
  }
  if (before.desiredState !== after.desiredState) {
    attributes['desiredState.old'] = taskStateName(before.desiredState);
    return { action: 'desired-state', attributes };
  }
  if (before.nodeId !== after.nodeId) return { action: 'assign', attributes };
  return { action: 'update', attributes };
}

function nodeEvent(before: Node | undefined, after: Node | undefined): { type: EventType; action: string; attributes: Record<string, string> } {
  const n = (after ?? before)!;
  const attributes: Record<string, string> = {
    name: n.spec.name, hostname: n.description.hostname, role: n.spec.role, availability: n.spec.availability, state: n.status.state, addr: n.status.addr,
  };
  // A manager's place in the Raft group, so an update of it says what changed (node ls's MANAGER STATUS).
  if (n.managerStatus !== undefined) {
    attributes['manager.leader'] = String(n.managerStatus.leader);
    attributes['manager.reachability'] = n.managerStatus.reachability;
  }
  const ms = before?.managerStatus;
  if (ms !== undefined && after !== undefined && ms.reachability !== after.managerStatus?.reachability) attributes['manager.reachability.old'] = ms.reachability;
  if (ms !== undefined && after !== undefined && ms.leader !== (after.managerStatus?.leader ?? false)) attributes['manager.leader.old'] = String(ms.leader);
  if (before === undefined) return { type: 'node', action: 'join', attributes };
  if (after === undefined) return { type: 'node', action: 'remove', attributes };
  // The leader is recorded on its node object; a change of it is a cluster-wide event.
  if (after.managerStatus?.leader === true && before.managerStatus?.leader !== true) return { type: 'cluster', action: 'leader-change', attributes: { ...attributes, leader: n.id } };
  if (before.spec.role !== after.spec.role) return { type: 'node', action: 'role-change', attributes: { ...attributes, 'role.old': before.spec.role } };
  if (before.spec.availability !== after.spec.availability) return { type: 'node', action: 'availability', attributes: { ...attributes, 'availability.old': before.spec.availability } };
  if (before.status.state !== after.status.state) {
    const action = after.status.state === 'ready' ? 'ready' : after.status.state === 'down' ? 'down' : after.status.state;
    return { type: 'node', action, attributes: { ...attributes, 'state.old': before.status.state } };
  }
  // Which parts of the node changed (e.g. a new description from its agent, a manager status).
  const parts = (['spec', 'description', 'status', 'managerStatus'] as const).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return { type: 'node', action: 'update', attributes: { ...attributes, changed: parts.join(',') } };
}

function clusterEvent(before: Cluster | undefined, after: Cluster | undefined): { action: string; attributes: Record<string, string> } {
  const c = (after ?? before)!;
  const attributes: Record<string, string> = { name: c.spec.name };
  if (before === undefined) return { action: 'create', attributes };
  if (after === undefined) return { action: 'remove', attributes };
  const rotated: string[] = [];
  if (before.joinTokens.worker !== after.joinTokens.worker) rotated.push('worker');
  if (before.joinTokens.manager !== after.joinTokens.manager) rotated.push('manager');
  if (rotated.length > 0) return { action: 'token-rotation', attributes: { ...attributes, tokens: rotated.join(',') } };
  return { action: 'update', attributes };
}

/**
 * The event of one committed change: the change at position `sub` of the transaction committed at
 * Raft `index`, proposed at `timeMs`. Pure, so every manager derives the same event from the log.
 */
export function deriveEvent(change: StoreChange, index: number, sub: number, timeMs: number): ShoalEvent {
  const base = { id: eventId(index, sub), index, sub, objectId: change.id, time: timeMs };
  switch (change.kind) {
    case 'service': return { ...base, type: 'service', ...serviceEvent(change.before as Service | undefined, change.after as Service | undefined) };
    case 'task': return { ...base, type: 'task', ...taskEvent(change.before as Task | undefined, change.after as Task | undefined) };
    case 'node': return { ...base, ...nodeEvent(change.before as Node | undefined, change.after as Node | undefined) };
    case 'cluster': return { ...base, type: 'cluster', ...clusterEvent(change.before as Cluster | undefined, change.after as Cluster | undefined) };
  }
}

/** Every event of one applied transaction, in commit order (one per changed object). */
export function deriveEvents(changes: readonly StoreChange[], index: number, timeMs: number): ShoalEvent[] {
  return changes.map((c, i) => deriveEvent(c, index, i, timeMs));
}
