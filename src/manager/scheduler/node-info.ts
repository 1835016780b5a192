import { isTerminal, TaskState, type Node, type Task } from '../../types/objects';

/** What the scheduler tracks per node while it places a batch: reservations, ports and task counts. */
export interface NodeInfo {
  readonly node: Node;
  cpuFree: number;
  memoryFree: number;
  readonly ports: Set<string>;
  readonly perService: Map<string, number>;
  total: number;
}

/** A task holds its node's resources from assignment until it stops or is told to stop. */
export function holdsNode(t: Task): boolean {
  return t.nodeId !== '' && t.status.state >= TaskState.ASSIGNED && !isTerminal(t.status.state) && t.desiredState <= TaskState.RUNNING;
}

/** A fresh NodeInfo for a node and the tasks placed on it. */
export function nodeInfoOf(node: Node, tasks: readonly Task[]): NodeInfo {
  const info: NodeInfo = {
    node, cpuFree: node.description.resources.nanoCPUs, memoryFree: node.description.resources.memoryBytes,
    ports: new Set(), perService: new Map(), total: 0,
  };
  for (const t of tasks) if (holdsNode(t)) addTask(info, t);
  return info;
}

/** Books a task on a node. */
export function addTask(info: NodeInfo, t: Task): void {
  info.cpuFree -= t.spec.resources.reservations.nanoCPUs;
  info.memoryFree -= t.spec.resources.reservations.memoryBytes;
  for (const p of t.hostPorts) info.ports.add(`${p.protocol}/${p.publishedPort}`);
  info.perService.set(t.serviceId, (info.perService.get(t.serviceId) ?? 0) + 1);
  info.total++;
}

/** The filters that depend on what is already placed: resources, host ports, max replicas per node. */
export function dynamicFilter(info: NodeInfo, t: Task): string | null {
  const r = t.spec.resources.reservations;
  if (r.memoryBytes > info.memoryFree) return 'insufficient memory';
  if (r.nanoCPUs > info.cpuFree) return 'insufficient cpu';
  for (const p of t.hostPorts) if (info.ports.has(`${p.protocol}/${p.publishedPort}`)) return `host port ${p.protocol}/${p.publishedPort} in use`;
  const max = t.spec.placement.maxReplicas;
  if (max > 0 && (info.perService.get(t.serviceId) ?? 0) >= max) return `max replicas per node (${max}) reached`;
  return null;
}
