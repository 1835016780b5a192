import type { Clock } from '../types/clock';
import type { Random } from '../types/random';
import { Dispatcher, type DispatcherOptions } from './dispatcher/dispatcher';
import { managerStatusActions } from './manager-status';
import { orchestrate } from './orchestrator/orchestrate';
import { ReconcileLoop } from './reconcile-loop';
import type { ReplicatedLog } from './replicated-log';
import { schedule } from './scheduler/schedule';
import { patchTask, type StoreAction } from './store/actions';
import type { Store } from './store/store';

/** Settings of a manager's leader loops. */
export interface ManagerOptions {
  readonly dispatcher?: Partial<DispatcherOptions>;
  /** Events within this window make one scheduling pass (SwarmKit batches the same way). */
  readonly schedulerDebounceMs?: number;
  /** How often the leader refreshes the managers' leader/reachability status (default 1 s). */
  readonly managerStatusPeriodMs?: number;
  readonly onError?: (loop: string, err: unknown) => void;
}

/**
 * The leader's loops around the replicated store: orchestrators with restart and update
 * supervision and the reaper, the scheduler and the dispatcher. They run while this manager
 * leads and stop when it stops leading (DESIGN.md §5).
 */
export class Manager {
  readonly dispatcher: Dispatcher;
  private readonly loops: ReconcileLoop[];
  private readonly unsubscribe: () => void;
  private leading = false;

  constructor(readonly store: Store, log: ReplicatedLog, private readonly clock: Clock, random: Random, opts: ManagerOptions = {}) {
    this.dispatcher = new Dispatcher(store, clock, random, opts.dispatcher);
    const orchestrator = new ReconcileLoop({
      name: 'orchestrator', store, clock, onError: opts.onError,
      pass: async () => {
        const plan = orchestrate(store.view, random, clock.now());
        return this.commit(plan.actions, plan.wakeAtMs);
      },
    });
    const scheduler = new ReconcileLoop({
      name: 'scheduler', store, clock, onError: opts.onError, debounceMs: opts.schedulerDebounceMs ?? 0,
      relevant: (e) => e.changes.some((c) => c.kind === 'node' || c.kind === 'task'),
      pass: async () => {
        const plan = schedule(store.view, clock.now());
        const actions: StoreAction[] = [
          ...plan.assigned.map((t) => patchTask(t, { nodeId: t.nodeId, status: t.status })),
          ...plan.unschedulable.map((t) => patchTask(t, { status: t.status })),
        ];
        return this.commit(actions, Infinity);
      },
    });
    this.loops = [orchestrator, scheduler];
    if (log.selfRaftId !== undefined && log.members !== undefined) {
      const periodMs = opts.managerStatusPeriodMs ?? 1000;
      this.loops.push(new ReconcileLoop({
        name: 'manager-status', store, clock, onError: opts.onError,
        relevant: (e) => e.changes.some((c) => c.kind === 'node'),
        pass: async () => {
          const actions = managerStatusActions(store.view, log.selfRaftId?.() ?? 0, log.members?.() ?? []);
          return this.commit(actions, clock.now() + periodMs);
        },
      }));
    }
    this.unsubscribe = log.onLeadershipChange((leader) => this.setLeading(leader));
    if (log.isLeader()) this.setLeading(true);
  }

  /** Writes a pass's decisions; a refused batch (a race with another writer) asks for another pass at once. */
  private async commit(actions: readonly StoreAction[], wakeAtMs: number): Promise<number> {
    if (actions.length === 0) return wakeAtMs;
    const out = await this.store.writeBatched(actions);
    return out.errors.length > 0 ? this.clock.now() : wakeAtMs;
  }

  isLeading(): boolean {
    return this.leading;
  }

  private setLeading(leader: boolean): void {
    if (leader === this.leading) return;
    this.leading = leader;
    if (leader) {
      this.dispatcher.start();
      for (const l of this.loops) l.start();
    } else {
      for (const l of this.loops) l.stop();
      this.dispatcher.stop();
    }
  }

  /** Stops every loop for good (shutdown). */
  close(): void {
    this.unsubscribe();
    this.setLeading(false);
  }
}
