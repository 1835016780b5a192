import { FailedPreconditionError, NotFoundError } from '../../types/errors';
import { validateNodeSpec, type Node, type NodeSpec } from '../../types/objects';
import type { Store } from '../store/store';

/** Changes a node's availability, labels or role, read at `version`. The last manager cannot be demoted. */
export async function updateNode(store: Store, id: string, version: number, patch: Partial<NodeSpec>): Promise<Node> {
  const current = store.view.get('node', id);
  if (current === undefined) throw new NotFoundError(`node ${id} not found`);
  const spec: NodeSpec = { ...current.spec, ...patch };
  validateNodeSpec(spec);
  if (current.spec.role === 'manager' && spec.role === 'worker') {
    const managers = store.view.nodes().filter((n) => n.spec.role === 'manager');
    if (managers.length <= 1) throw new FailedPreconditionError(`node ${id} is the last manager and cannot be demoted`, { hint: 'promote another node first' });
  }
  await store.write([{ op: 'update', target: { kind: 'node', object: { ...current, meta: { ...current.meta, version }, spec } } }]);
  return store.view.get('node', id) ?? current;
}
