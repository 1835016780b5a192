import type { DNode, DService, DUpdateConfig } from '../docker-types';
import { humanSize } from '../human';
import { formatDurationNs } from '../units';
import { capital, portsText } from '../views';

// `inspect --pretty`: the human summaries docker prints for a service and a node.

const kv = (k: string, v: string | number | undefined, indent = ''): string => {
  const label = `${indent}${k}:`;
  return `${label.length >= 19 ? `${label} ` : label.padEnd(20)}${v ?? ''}`;
};

function updateLines(title: string, c: DUpdateConfig | undefined): string[] {
  if (c === undefined) return [];
  return [
    `${title}:`,
    kv('Parallelism', c.Parallelism ?? 1, ' '),
    ...(c.Delay ? [kv('Delay', formatDurationNs(c.Delay), ' ')] : []),
    kv('On failure', c.FailureAction ?? 'pause', ' '),
    kv('Monitoring Period', formatDurationNs(c.Monitor ?? 5e9), ' '),
    kv('Max failure ratio', c.MaxFailureRatio ?? 0, ' '),
    kv('Update order', c.Order ?? 'stop-first', ' '),
  ];
}

/** Docker's `service inspect --pretty`. */
export function servicePretty(s: DService): string {
  const spec = s.Spec;
  const t = spec.TaskTemplate;
  const c = t.ContainerSpec;
  const lines = ['', kv('ID', s.ID), kv('Name', spec.Name)];
  const labels = Object.entries(spec.Labels ?? {});
  if (labels.length > 0) lines.push('Labels:', ...labels.map(([k, v]) => ` ${k}=${v}`));
  lines.push(kv('Service Mode', spec.Mode?.Global !== undefined ? 'Global' : 'Replicated'));
  if (spec.Mode?.Global === undefined) lines.push(kv('Replicas', spec.Mode?.Replicated?.Replicas ?? 1, ' '));
  if (s.UpdateStatus?.State !== undefined) {
    lines.push('UpdateStatus:', kv('State', s.UpdateStatus.State, ' '), ...(s.UpdateStatus.StartedAt ? [kv('Started', s.UpdateStatus.StartedAt, ' ')] : []), kv('Message', s.UpdateStatus.Message, ' '));
  }
  lines.push('Placement:');
  if ((t.Placement?.Constraints ?? []).length > 0) lines.push(kv('Constraints', JSON.stringify(t.Placement!.Constraints), ' '));
  if ((t.Placement?.Preferences ?? []).length > 0) lines.push(kv('Preferences', t.Placement!.Preferences!.map((p) => `spread=${p.Spread.SpreadDescriptor}`).join(', '), ' '));
  if (t.Placement?.MaxReplicas) lines.push(kv('Max Replicas Per Node', t.Placement.MaxReplicas, ' '));
  lines.push(...updateLines('UpdateConfig', spec.UpdateConfig), ...updateLines('RollbackConfig', spec.RollbackConfig));
  lines.push('ContainerSpec:', kv('Image', c.Image, ' '));
  if (c.Command?.length) lines.push(kv('Command', c.Command.join(' '), ' '));
  if (c.Args?.length) lines.push(kv('Args', c.Args.join(' '), ' '));
  if (c.Env?.length) lines.push(' Env:', ...c.Env.map((e) => `  ${e}`));
  if (c.Dir) lines.push(kv('Dir', c.Dir, ' '));
  if (c.User) lines.push(kv('User', c.User, ' '));
  const r = t.Resources;
  if (r?.Limits?.NanoCPUs || r?.Limits?.MemoryBytes || r?.Reservations?.NanoCPUs || r?.Reservations?.MemoryBytes) {
    lines.push('Resources:');
    for (const [title, x] of [['Limits', r.Limits], ['Reservations', r.Reservations]] as const) {
      if (!x?.NanoCPUs && !x?.MemoryBytes) continue;
      lines.push(` ${title}:`);
      if (x.NanoCPUs) lines.push(kv('CPU', x.NanoCPUs / 1e9, '  '));
      if (x.MemoryBytes) lines.push(kv('Memory', humanSize(x.MemoryBytes), '  '));
    }
  }
  if (t.RestartPolicy?.Condition) lines.push('RestartPolicy:', kv('Condition', t.RestartPolicy.Condition, ' '));
  const ports = s.Endpoint?.Ports ?? spec.EndpointSpec?.Ports ?? [];
  if (ports.length > 0) lines.push(kv('Ports', portsText(ports)));
  return `${lines.join('\n')}\n`;
}

/** Docker's `node inspect --pretty`. */
export function nodePretty(n: DNode): string {
  const d = n.Description;
  const lines = [kv('ID', n.ID)];
  if (n.Spec.Name) lines.push(kv('Name', n.Spec.Name));
  const labels = Object.entries(n.Spec.Labels ?? {});
  if (labels.length > 0) lines.push('Labels:', ...labels.map(([k, v]) => ` - ${k}=${v}`));
  lines.push(kv('Hostname', d?.Hostname), kv('Joined at', n.CreatedAt), 'Status:', kv('State', capital(n.Status.State), ' '), kv('Availability', capital(n.Spec.Availability), ' '), kv('Address', n.Status.Addr, ' '));
  if (n.ManagerStatus !== undefined) lines.push('Manager Status:', kv('Address', n.ManagerStatus.Addr, ' '), kv('Raft Status', capital(n.ManagerStatus.Reachability ?? ''), ' '), kv('Leader', n.ManagerStatus.Leader === true ? 'Yes' : 'No', ' '));
  lines.push('Platform:', kv('Operating System', d?.Platform?.OS, ' '), kv('Architecture', d?.Platform?.Architecture, ' '));
  lines.push('Resources:', kv('CPUs', (d?.Resources?.NanoCPUs ?? 0) / 1e9, ' '), kv('Memory', humanSize(d?.Resources?.MemoryBytes ?? 0), ' '));
  lines.push(kv('Engine Version', d?.Engine?.EngineVersion));
  return `${lines.join('\n')}\n`;
}
