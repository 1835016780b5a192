import type { Clock } from '../../types/clock';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../types/errors';
import { NEW_META, newObjectId, serviceSpecWithDefaults, validateServiceSpec, type Service, type ServiceSpec, type SpecInput } from '../../types/objects';
import type { Random } from '../../types/random';
import { taskSpecKey } from '../orchestrator/new-task';
import type { Store } from '../store/store';

/** The parts of a service spec that must be objects when given (defaults are merged into them). */
const OBJECT_PATHS = ['labels', 'task', 'task.container', 'task.resources', 'task.resources.limits', 'task.resources.reservations',
  'task.restartPolicy', 'task.placement', 'update', 'rollback', 'endpoint'];

function checkShape(input: unknown): void {
  for (const p of OBJECT_PATHS) {
    let v: unknown = input;
    for (const k of p.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) throw new InvalidArgumentError(`${p} must be an object, got ${JSON.stringify(v)}`);
  }
}

function normalized(input: SpecInput<ServiceSpec>): ServiceSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidArgumentError(`service spec must be an object, got ${JSON.stringify(input)}`);
  checkShape(input);
  const spec = serviceSpecWithDefaults(input);
  validateServiceSpec(spec);
  return spec;
}

/** Creates a service after checking every field of its spec; nothing is written if one is bad. */
export async function createService(store: Store, random: Random, input: SpecInput<ServiceSpec>): Promise<Service> {
  const spec = normalized(input);
  const service: Service = { id: newObjectId(random), meta: NEW_META, spec };
  await store.write([{ op: 'create', target: { kind: 'service', object: service } }]);
  const created = store.view.get('service', service.id);
  if (created === undefined) throw new NotFoundError(`service ${service.id} vanished right after it was created`);
  return created;
}

/**
 * Replaces a service's spec, read at `version` (a stale version is refused), keeping the old spec
 * for rollback; a change of the task spec starts a rolling update; `rollback` goes back to it.
 */
export async function updateService(store: Store, clock: Clock, id: string, version: number, input: SpecInput<ServiceSpec> | null, opts: { rollback?: boolean } = {}): Promise<Service> {
  const current = store.view.get('service', id);
  if (current === undefined) throw new NotFoundError(`service ${id} not found`);
  let next: Service;
  const now = Math.floor(clock.now());
  if (opts.rollback === true) {
    if (current.previousSpec === undefined) throw new FailedPreconditionError(`service ${current.spec.name} has no previous spec to roll back to`);
    next = { ...current, meta: { ...current.meta, version }, spec: current.previousSpec, previousSpec: current.spec,
      updateStatus: { state: 'rollback_started', startedAt: now, completedAt: 0, message: 'manually requested rollback' } };
  } else {
    const spec = normalized(input ?? {});
    if (spec.mode !== current.spec.mode) throw new InvalidArgumentError(`mode cannot change from ${current.spec.mode} to ${spec.mode}`, { hint: 'remove the service and create it again' });
    const taskChanged = taskSpecKey(spec.task) !== taskSpecKey(current.spec.task);
    // As Docker: every update keeps the spec it replaces (a scale can be rolled back too) and
    // clears the last update's status; a task change starts a new rolling update.
    const { updateStatus: _last, ...rest } = current;
    next = { ...rest, meta: { ...current.meta, version }, spec, previousSpec: current.spec };
    if (taskChanged) next = { ...next, updateStatus: { state: 'updating', startedAt: now, completedAt: 0, message: 'update in progress' } };
  }
  await store.write([{ op: 'update', target: { kind: 'service', object: next } }]);
  return store.view.get('service', id) ?? next;
}

/** Removes a service; its tasks are shut down and removed by the reaper. */
export async function removeService(store: Store, id: string): Promise<void> {
  if (store.view.get('service', id) === undefined) throw new NotFoundError(`service ${id} not found`);
  await store.write([{ op: 'remove', kind: 'service', id, expectedVersion: 0 }]);
}
