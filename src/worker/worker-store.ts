import { Level } from 'level';
import type { Task, TaskStatus } from '../types/objects';

/** A task this node holds and the last status it reached (DESIGN.md §7: the worker's durable record). */
export interface HeldTask {
  readonly task: Task;
  readonly status: TaskStatus;
}

/**
 * The agent's own LevelDB: assigned tasks and their last status, so that a restarted agent knows
 * what it ran and reports the truth instead of starting anything twice.
 */
export class WorkerStore {
  private constructor(private readonly db: Level<string, HeldTask | string[]>) {}

  static async open(dir: string): Promise<WorkerStore> {
    const db = new Level<string, HeldTask | string[]>(dir, { valueEncoding: 'json' });
    await db.open();
    return new WorkerStore(db);
  }

  async all(): Promise<HeldTask[]> {
    const out: HeldTask[] = [];
    for await (const v of this.db.values({ gte: 'task/', lt: 'task0' })) out.push(v as HeldTask);
    return out;
  }

  /** The managers' addresses last learned from a session (empty if never), so a restarted agent knows them. */
  async managers(): Promise<string[]> {
    const v = await this.db.get('meta/managers');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  }

  async putManagers(addrs: readonly string[]): Promise<void> {
    await this.db.put('meta/managers', [...addrs]);
  }

  async put(held: HeldTask): Promise<void> {
    await this.db.put(`task/${held.task.id}`, held);
  }

  async delete(taskId: string): Promise<void> {
    await this.db.del(`task/${taskId}`);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
