import type { Node, Service, Task } from '../../types/objects';
import type { StoreAction } from '../store/actions';

/**
 * The writes one reconcile pass decides on. Each object is touched at most once per pass, so two
 * decisions about the same task cannot both land; the later one waits for the next pass.
 */
export class Plan {
  readonly actions: StoreAction[] = [];
  private readonly touched = new Set<string>();
  private readonly removed = new Set<string>();
  /** The earliest time a later pass must run even without events (a restart delay, an update delay). */
  wakeAtMs = Infinity;

  has(id: string): boolean {
    return this.touched.has(id);
  }

  /** True if this pass deletes the object. */
  removes(id: string): boolean {
    return this.removed.has(id);
  }

  createTask(t: Task): void {
    this.touched.add(t.id);
    this.actions.push({ op: 'create', target: { kind: 'task', object: t } });
  }

  updateTask(t: Task): boolean {
    if (this.touched.has(t.id)) return false;
    this.touched.add(t.id);
    this.actions.push({ op: 'update', target: { kind: 'task', object: t } });
    return true;
  }

  removeTask(t: Task): boolean {
    if (this.touched.has(t.id)) return false;
    this.touched.add(t.id);
    this.removed.add(t.id);
    this.actions.push({ op: 'remove', kind: 'task', id: t.id, expectedVersion: t.meta.version });
    return true;
  }

  updateService(s: Service): boolean {
    if (this.touched.has(s.id)) return false;
    this.touched.add(s.id);
    this.actions.push({ op: 'update', target: { kind: 'service', object: s } });
    return true;
  }

  updateNode(n: Node): boolean {
    if (this.touched.has(n.id)) return false;
    this.touched.add(n.id);
    this.actions.push({ op: 'update', target: { kind: 'node', object: n } });
    return true;
  }

  wakeAt(ms: number): void {
    this.wakeAtMs = Math.min(this.wakeAtMs, ms);
  }
}
