import type { Resources } from './node';
import type { ServiceSpec, TaskSpec, UpdateConfig } from './service';

/** Deep-partial input, as a user or a test writes a spec. */
export type SpecInput<T> = { [K in keyof T]?: T[K] extends readonly (infer _U)[] ? T[K] : K extends 'labels' ? T[K] : T[K] extends object ? SpecInput<T[K]> : T[K] };

const NO_RESOURCES: Resources = { nanoCPUs: 0, memoryBytes: 0 };

/** Docker's update defaults: one at a time, no delay, pause on failure, 5 s monitor, stop-first. */
export const DEFAULT_UPDATE_CONFIG: UpdateConfig = {
  parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first',
};

/** A TaskSpec with every field present; unset fields get Docker's defaults. */
export function taskSpecWithDefaults(t: SpecInput<TaskSpec> = {}): TaskSpec {
  const c = t.container ?? {};
  return {
    container: {
      image: c.image ?? '', command: c.command ?? [], args: c.args ?? [], env: c.env ?? [], user: c.user ?? '',
      workdir: c.workdir ?? '', mounts: c.mounts ?? [], stopGraceMs: c.stopGraceMs ?? 10_000, hostname: c.hostname ?? '',
      ...(c.init === true ? { init: true as const } : {}),
    },
    resources: {
      limits: { ...NO_RESOURCES, ...t.resources?.limits },
      reservations: { ...NO_RESOURCES, ...t.resources?.reservations },
    },
    restartPolicy: { condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0, ...t.restartPolicy },
    placement: { constraints: [], preferences: [], maxReplicas: 0, ...t.placement },
    forceUpdate: t.forceUpdate ?? 0,
  };
}

/** A ServiceSpec with every field present; unset fields get Docker's defaults (1 replica). */
export function serviceSpecWithDefaults(s: SpecInput<ServiceSpec>): ServiceSpec {
  const mode = s.mode ?? 'replicated';
  return {
    name: s.name ?? '',
    labels: s.labels ?? {},
    task: taskSpecWithDefaults(s.task),
    mode,
    replicas: s.replicas ?? (mode === 'replicated' ? 1 : 0),
    update: { ...DEFAULT_UPDATE_CONFIG, ...s.update },
    rollback: { ...DEFAULT_UPDATE_CONFIG, ...s.rollback },
    endpoint: { ports: s.endpoint?.ports ?? [] },
  };
}
