/** A node's role in the cluster, carried in its certificate's OU. */
export type NodeRole = 'manager' | 'worker';

/** Every role, in a fixed order. */
export const nodeRoles: readonly NodeRole[] = ['manager', 'worker'];

const ouOfRole: Record<NodeRole, string> = { manager: 'shoal-manager', worker: 'shoal-worker' };

/** The certificate OU that names a role. */
export function roleToOu(role: NodeRole): string {
  return ouOfRole[role];
}

/** The role an OU names, or undefined for any other string. */
export function roleFromOu(ou: string): NodeRole | undefined {
  return nodeRoles.find((r) => ouOfRole[r] === ou);
}
