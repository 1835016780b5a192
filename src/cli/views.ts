import type { DNode, DPortConfig, DService, DTask } from './docker-types';
import { Column } from './format';
import { ago, truncate } from './human';

// Rows of the swarm listings, with docker's columns and cell texts. Each row is a plain object
// whose keys are the template fields (`{{.Name}}`), so tables, json and templates agree.

/** `service ls` columns. */
export const serviceColumns: Column[] = [
  { key: 'ID', header: 'ID' }, { key: 'Name', header: 'NAME' }, { key: 'Mode', header: 'MODE' },
  { key: 'Replicas', header: 'REPLICAS' }, { key: 'Image', header: 'IMAGE' }, { key: 'Ports', header: 'PORTS' },
];

/** `service ps`, `node ps` and `stack ps` columns. */
export const taskColumns: Column[] = [
  { key: 'ID', header: 'ID' }, { key: 'Name', header: 'NAME' }, { key: 'Image', header: 'IMAGE' }, { key: 'Node', header: 'NODE' },
  { key: 'DesiredState', header: 'DESIRED STATE' }, { key: 'CurrentState', header: 'CURRENT STATE' }, { key: 'Error', header: 'ERROR' },
  { key: 'Ports', header: 'PORTS' },
];

/** `node ls` columns. */
export const nodeColumns: Column[] = [
  { key: 'ID', header: 'ID' }, { key: 'Hostname', header: 'HOSTNAME' }, { key: 'Status', header: 'STATUS' },
  { key: 'Availability', header: 'AVAILABILITY' }, { key: 'ManagerStatus', header: 'MANAGER STATUS' }, { key: 'EngineVersion', header: 'ENGINE VERSION' },
];

/** "running" -> "Running", as docker prints states. */
export function capital(s: string): string {
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}`;
}

/** An image reference without its digest, as docker's IMAGE columns show it. */
export function shortImage(image: string): string {
  const at = image.indexOf('@');
  return at < 0 ? image : image.slice(0, at);
}

/** Docker's PORTS cell of a service: "*:8080->80/tcp". */
export function portsText(ports: readonly DPortConfig[] | undefined): string {
  return (ports ?? []).map((p) => `*:${p.PublishedPort ?? ''}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`).join(', ');
}

/** Running and desired task counts of one service. */
export interface ReplicaCount { running: number; desired: number }

/** Counts from tasks, for servers that send no ServiceStatus: running tasks, and tasks meant to run. */
export function countReplicas(services: readonly DService[], tasks: readonly DTask[]): Map<string, ReplicaCount> {
  const out = new Map<string, ReplicaCount>();
  for (const s of services) {
    const mine = tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running');
    const running = mine.filter((t) => t.Status.State === 'running').length;
    const desired = s.Spec.Mode?.Global !== undefined ? mine.length : s.Spec.Mode?.Replicated?.Replicas ?? 1;
    out.set(s.ID, { running, desired });
  }
  return out;
}

/** One `service ls` row. */
export function serviceRow(s: DService, count: ReplicaCount | undefined): Record<string, string> {
  const c = s.ServiceStatus !== undefined ? { running: s.ServiceStatus.RunningTasks, desired: s.ServiceStatus.DesiredTasks } : count ?? { running: 0, desired: 0 };
  const max = s.Spec.TaskTemplate.Placement?.MaxReplicas ?? 0;
  return {
    ID: s.ID.slice(0, 12),
    Name: s.Spec.Name ?? '',
    Mode: s.Spec.Mode?.Global !== undefined ? 'global' : 'replicated',
    Replicas: `${c.running}/${c.desired}${max > 0 ? ` (max ${max} per node)` : ''}`,
    Image: shortImage(s.Spec.TaskTemplate.ContainerSpec.Image),
    Ports: portsText(s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports),
  };
}

/** Sort key and name of a task as docker's `service ps`: service name, slot or node. */
function taskName(t: DTask, serviceNames: ReadonlyMap<string, string>): string {
  const svc = serviceNames.get(t.ServiceID) ?? t.ServiceID;
  return (t.Slot ?? 0) > 0 ? `${svc}.${t.Slot}` : `${svc}.${t.NodeID ?? ''}`;
}

/**
 * `service ps` rows: grouped by slot (or node), newest first; older tasks of a slot named
 * ` \_ web.1`, as docker prints the history.
 */
export function taskRows(tasks: readonly DTask[], serviceNames: ReadonlyMap<string, string>, hostnames: ReadonlyMap<string, string>, nowMs: number, noTrunc: boolean): Record<string, string>[] {
  // Newest task first by creation, as docker does: an old task's later SHUTDOWN must not put it above its replacement.
  const time = (t: DTask): number => Date.parse(t.CreatedAt ?? t.Status.Timestamp ?? '') || 0;
  const sorted = [...tasks].sort((a, b) => {
    const na = taskName(a, serviceNames);
    const nb = taskName(b, serviceNames);
    if (na !== nb) return (serviceNames.get(a.ServiceID) ?? '').localeCompare(serviceNames.get(b.ServiceID) ?? '') || (a.Slot ?? 0) - (b.Slot ?? 0) || na.localeCompare(nb);
    return time(b) - time(a);
  });
  let last = '';
  return sorted.map((t) => {
    const name = taskName(t, serviceNames);
    const shown = name === last ? ` \\_ ${name}` : name;
    last = name;
    const err = t.Status.Err ?? '';
    return {
      ID: noTrunc ? t.ID : t.ID.slice(0, 12),
      Name: shown,
      Image: noTrunc ? t.Spec.ContainerSpec.Image : shortImage(t.Spec.ContainerSpec.Image),
      Node: t.NodeID ? hostnames.get(t.NodeID) ?? t.NodeID : '',
      DesiredState: capital(t.DesiredState),
      CurrentState: `${capital(t.Status.State)} ${ago(t.Status.Timestamp, nowMs)}`,
      Error: err === '' ? '' : noTrunc ? `"${err}"` : `"${truncate(err, 29)}"`,
      Ports: portsText(t.Status.PortStatus?.Ports),
    };
  });
}

/** One `node ls` row; `Self` is the node this CLI talks to (the table marks it with `*`, as docker does). */
export function nodeRow(n: DNode, selfId: string): Record<string, string | boolean> {
  const ms = n.ManagerStatus;
  return {
    ID: n.ID,
    Hostname: n.Description?.Hostname ?? '',
    Status: capital(n.Status.State),
    Availability: capital(n.Spec.Availability),
    ManagerStatus: ms === undefined ? '' : ms.Leader === true ? 'Leader' : capital(ms.Reachability ?? ''),
    EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
    Self: n.ID === selfId,
  };
}

/** The table form of node rows: docker marks this node's ID with `*` (json and templates keep the plain ID and `Self`). */
export function markSelf(rows: Record<string, string | boolean>[]): Record<string, string | boolean>[] {
  return rows.map((r) => (r.Self === true ? { ...r, ID: `${String(r.ID)} *` } : r));
}
