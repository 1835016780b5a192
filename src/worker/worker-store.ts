import { Level } from 'level';
import { FailedPreconditionError } from '../types/errors';
import type { Task, TaskStatus } from '../types/objects';

/** A task this node holds and the last status it reached (DESIGN.md §7: the worker's durable record). */
export interface HeldTask {
  readonly task: Task;
  readonly status: TaskStatus;
}

function corrupt(dir: string, why: string): FailedPreconditionError {
  return new FailedPreconditionError(`the worker database ${dir} is damaged: ${why}`, {
    hint: `stop shoald, move ${dir} aside and start again: the agent gets its tasks from the managers and finds their containers by name`,
  });
}

function isHeldTask(v: unknown): v is HeldTask {
  const h = v as Partial<HeldTask> | null;
  return typeof h === 'object' && h !== null && typeof h.task?.id === 'string' && typeof h.task.spec === 'object' && typeof h.status?.state === 'number';
}

/**
 * The agent's own LevelDB: assigned tasks and their last status, so that a restarted agent knows
 * what it ran and reports the truth instead of starting anything twice; and the managers it
 * learned, so that it finds them again. A damaged database stops the agent with its name; it
 * never starts empty in its place.
 */
export class WorkerStore {
  private constructor(private readonly db: Level<string, HeldTask | string[]>, readonly dir: string) {}

  static async open(dir: string): Promise<WorkerStore> {
    const db = new Level<string, HeldTask | string[]>(dir, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: Error & { code?: string } }).cause ?? (err as Error & { code?: string });
      if (cause.code === 'LEVEL_LOCKED') {
        throw new FailedPreconditionError(`the worker database ${dir} is in use by another process`, { hint: 'is another shoald running with the same --data-root? stop it first' });
      }
      throw corrupt(dir, cause.message);
    }
    return new WorkerStore(db, dir);
  }

  async all(): Promise<HeldTask[]> {
    const out: HeldTask[] = [];
    try {
      for await (const [k, v] of this.db.iterator({ gte: 'task/', lt: 'task0' })) {
        if (!isHeldTask(v) || k !== `task/${v.task.id}`) throw corrupt(this.dir, `record ${k} is not a task and its status`);
        out.push(v);
      }
    } catch (err) {
      if (err instanceof FailedPreconditionError) throw err;
      throw corrupt(this.dir, (err as Error).message);
    }
    return out;
  }

  async put(held: HeldTask): Promise<void> {
    await this.db.put(`task/${held.task.id}`, held);
  }

  async delete(taskId: string): Promise<void> {
    await this.db.del(`task/${taskId}`);
  }

  /** The managers' addresses last learned from a session (empty if never), so a restarted agent knows them. */
  async managers(): Promise<string[]> {
    const v = await this.db.get('meta/managers');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  }

  async putManagers(addrs: readonly string[]): Promise<void> {
    await this.db.put('meta/managers', [...addrs]);
  }

  /** Forgets everything: the node left the swarm, and what it held or knew belongs to that swarm. */
  async clear(): Promise<void> {
    await this.db.clear();
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
