import { DEFAULT_CLUSTER_SPEC, NEW_META, newObjectId, serviceSpecWithDefaults, type Cluster, type Node, type Service, type ServiceSpec, type SpecInput } from '../../../src/types/objects';
import type { Random } from '../../../src/types/random';

/** A ready, active worker node with 4 CPUs and 8 GiB, unless overridden. */
export function makeNode(random: Random, opts: { hostname?: string; labels?: Record<string, string>; memoryBytes?: number; nanoCPUs?: number; state?: 'ready' | 'down' | 'unknown'; role?: 'worker' | 'manager' } = {}): Node {
  const hostname = opts.hostname ?? `host-${newObjectId(random).slice(0, 6)}`;
  return {
    id: newObjectId(random),
    meta: NEW_META,
    spec: { name: hostname, labels: opts.labels ?? {}, role: opts.role ?? 'worker', availability: 'active' },
    description: {
      hostname,
      platform: { os: 'linux', architecture: 'x86_64' },
      resources: { nanoCPUs: opts.nanoCPUs ?? 4e9, memoryBytes: opts.memoryBytes ?? 8 * 2 ** 30 },
    },
    status: { state: opts.state ?? 'unknown', addr: '', message: '' },
  };
}

/** A service object around a spec with defaults filled in. */
export function makeService(random: Random, spec: SpecInput<ServiceSpec>): Service {
  return { id: newObjectId(random), meta: NEW_META, spec: serviceSpecWithDefaults(spec) };
}

/** The cluster object with Docker's defaults. */
export function makeCluster(random: Random, spec: Partial<Cluster['spec']> = {}): Cluster {
  return { id: newObjectId(random), meta: NEW_META, spec: { ...DEFAULT_CLUSTER_SPEC, ...spec }, joinTokens: { worker: 'w', manager: 'm' } };
}
