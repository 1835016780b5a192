import type { Random } from '../../types/random';
import { NEW_META, newObjectId, TaskState, type HostPort, type Service, type Task } from '../../types/objects';

/** The ports a task of this service binds on its node (host publish mode only). */
export function hostPortsOf(service: Service): HostPort[] {
  return service.spec.endpoint.ports
    .filter((p) => p.publishMode === 'host' && p.publishedPort !== 0)
    .map((p) => ({ protocol: p.protocol, publishedPort: p.publishedPort }));
}

/**
 * A new task of a service running its current spec, ready for the scheduler. SwarmKit creates
 * tasks NEW and lets the allocator move them to PENDING; shoal allocates no network addresses
 * yet, so the orchestrator creates them PENDING directly.
 */
export function newTask(service: Service, random: Random, nowMs: number, where: { slot: number; nodeId: string }, restartHistoryMs: readonly number[] = []): Task {
  return {
    id: newObjectId(random),
    meta: NEW_META,
    serviceId: service.id,
    slot: where.slot,
    nodeId: where.nodeId,
    spec: service.spec.task,
    hostPorts: hostPortsOf(service),
    desiredState: TaskState.RUNNING,
    status: { state: TaskState.PENDING, timestamp: nowMs, message: 'pending task scheduling', err: '', exitCode: 0, containerId: '', pid: 0 },
    restartHistoryMs,
  };
}

/** A stable text form of a value with sorted object keys, to compare specs by content. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Canonical form of each task spec object seen. Spec objects are never mutated and are shared:
 * the store gives every task decoded from one spec text the same object, so a pass over 100,000
 * tasks of 100 services computes about 100 keys instead of 200,000.
 */
const specKeys = new WeakMap<object, string>();

/**
 * The canonical JSON of a task spec, memoized per spec object. forceUpdate 0 is left out, so that
 * specs stored before the field existed compare equal to the same spec with it at its default.
 */
export function taskSpecKey(spec: Task['spec']): string {
  let key = specKeys.get(spec);
  if (key === undefined) specKeys.set(spec, (key = canonicalJson(spec.forceUpdate === 0 ? { ...spec, forceUpdate: undefined } : spec)));
  return key;
}

/** True when a task does not run its service's current spec (SwarmKit's IsTaskDirty). */
export function isTaskDirty(service: Service, task: Task): boolean {
  if (task.spec === service.spec.task) return false;
  return taskSpecKey(task.spec) !== taskSpecKey(service.spec.task);
}
