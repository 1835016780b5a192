import type { Task } from '../../types/objects';

/** One change to a node's set of assigned tasks. */
export type AssignmentChange = { readonly action: 'update'; readonly task: Task } | { readonly action: 'remove'; readonly taskId: string };

/**
 * A message of a worker's assignment stream. Sequence numbers go up by one per message, so an
 * agent that sees a gap knows it missed something and re-registers for a complete set.
 */
export interface AssignmentMessage {
  readonly sequence: number;
  /** 'complete' replaces the agent's whole set; 'incremental' applies changes to it. */
  readonly type: 'complete' | 'incremental';
  readonly changes: readonly AssignmentChange[];
}

/**
 * What one session has sent, to compute the next incremental message. A task is resent only when
 * its desired state changes: its spec never changes after creation, and status flows the other way.
 */
export class AssignmentSet {
  private readonly sent = new Map<string, number>();
  private sequence = 0;

  /** The complete set for a new session. */
  complete(tasks: readonly Task[]): AssignmentMessage {
    this.sent.clear();
    for (const t of tasks) this.sent.set(t.id, t.desiredState);
    return { sequence: ++this.sequence, type: 'complete', changes: tasks.map((task) => ({ action: 'update', task })) };
  }

  /** The changes for tasks that changed (now on this node, or gone: undefined), or null if none matter. */
  incremental(changed: ReadonlyMap<string, Task | undefined>): AssignmentMessage | null {
    const changes: AssignmentChange[] = [];
    for (const [id, t] of changed) {
      const was = this.sent.get(id);
      if (t === undefined) {
        if (was !== undefined) {
          this.sent.delete(id);
          changes.push({ action: 'remove', taskId: id });
        }
      } else if (was !== t.desiredState) {
        this.sent.set(id, t.desiredState);
        changes.push({ action: 'update', task: t });
      }
    }
    return changes.length === 0 ? null : { sequence: ++this.sequence, type: 'incremental', changes };
  }
}
