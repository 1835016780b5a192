import { parseConstraint, type Constraint, type Node, type TaskSpec } from '../../types/objects';

/** Why a node cannot take a task; the text is what the aggregated PENDING reason says. */
export type FilterReason = string;

/** The value a constraint key has on a node (undefined if the node has no such label). */
export function nodeAttribute(node: Node, key: string): string | undefined {
  if (key === 'node.id') return node.id;
  if (key === 'node.hostname') return node.description.hostname;
  if (key === 'node.role') return node.spec.role;
  if (key === 'node.platform.os') return node.description.platform.os;
  if (key === 'node.platform.arch') return node.description.platform.architecture;
  if (key.startsWith('node.labels.')) return node.spec.labels[key.slice('node.labels.'.length)];
  return undefined;
}

/** True when the node satisfies the constraint; a missing label satisfies only `!=` (as Docker). */
export function matchesConstraint(node: Node, c: Constraint): boolean {
  const v = nodeAttribute(node, c.key);
  const eq = v !== undefined && (c.key === 'node.hostname' || c.key === 'node.role' || c.key.startsWith('node.platform.') ? v.toLowerCase() === c.value.toLowerCase() : v === c.value);
  return c.op === '==' ? eq : !eq;
}

/** Parsed constraints of a task spec (validated at the API edge; a bad one here is skipped). */
export function constraintsOf(spec: TaskSpec): Constraint[] {
  const out: Constraint[] = [];
  for (const text of spec.placement.constraints) {
    try { out.push(parseConstraint(text)); } catch { /* validated at the edge */ }
  }
  return out;
}

/** The static filters (state, availability, constraints) that do not change while a batch is placed. */
export function staticFilter(node: Node, constraints: readonly Constraint[]): FilterReason | null {
  if (node.status.state !== 'ready') return 'not ready';
  if (node.spec.availability !== 'active') return 'not active';
  for (const c of constraints) if (!matchesConstraint(node, c)) return `not matching constraint ${c.text}`;
  return null;
}
