/**
 * The aggregated reason a task fits nowhere, as Docker prints it:
 * `no suitable node (insufficient memory on 3 nodes; 2 nodes not matching constraint node.labels.zone==b)`.
 */
export function pendingReason(counts: ReadonlyMap<string, number>, nodeCount: number): string {
  if (nodeCount === 0) return 'no suitable node (no nodes in the cluster)';
  const parts: string[] = [];
  for (const [why, n] of counts) {
    const nodes = `${n} node${n === 1 ? '' : 's'}`;
    parts.push(why.startsWith('insufficient') || why.startsWith('host port') || why.startsWith('max replicas') ? `${why} on ${nodes}` : `${nodes} ${why}`);
  }
  return `no suitable node (${parts.join('; ')})`;
}
