import type { NodeInfo } from './node-info';

/**
 * A binary min-heap of nodes ordered by (tasks of one service, tasks overall, id): the spread
 * order. Placing a group of identical tasks pops the best node and pushes it back with its new
 * counts, so a task costs O(log nodes) instead of a scan of every node.
 */
export class NodeHeap {
  private readonly items: NodeInfo[] = [];

  constructor(private readonly serviceId: string) {}

  get size(): number {
    return this.items.length;
  }

  push(n: NodeInfo): void {
    const a = this.items;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): NodeInfo | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as NodeInfo;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }

  private less(x: NodeInfo, y: NodeInfo): boolean {
    const sx = x.perService.get(this.serviceId) ?? 0;
    const sy = y.perService.get(this.serviceId) ?? 0;
    if (sx !== sy) return sx < sy;
    if (x.total !== y.total) return x.total < y.total;
    return x.node.id < y.node.id;
  }
}
