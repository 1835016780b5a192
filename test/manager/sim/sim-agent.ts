import type { Clock, TimerHandle } from '../../../src/types/clock';
import { TaskState, type Node, type Task, type TaskStatus } from '../../../src/types/objects';
import type { Dispatcher } from '../../../src/manager/dispatcher/dispatcher';
import type { AssignmentMessage } from '../../../src/manager/dispatcher/assignments';

/** How a simulated agent behaves. */
export interface SimAgentOptions {
  /** From ASSIGNED to RUNNING. */
  startDelayMs: number;
  /** From a stop request to SHUTDOWN. */
  stopDelayMs: number;
  /** Containers of these images fail (exit 1) this long after they were assigned. */
  failingImages: ReadonlySet<string>;
}

interface Local { task: Task; state: number; timer: TimerHandle | null; status: TaskStatus | null }

/**
 * A worker agent without containers: it keeps a session with the leader's dispatcher, heartbeats,
 * applies its assignment stream (checking sequence numbers) and reports plausible task states.
 */
export class SimAgent {
  readonly tasks = new Map<string, Local>();
  /** Sequence gaps seen on the assignment stream (must stay 0). */
  gaps = 0;
  private session: { dispatcher: Dispatcher; id: string } | null = null;
  private lastSequence = 0;
  private registering = false;
  private hb: TimerHandle | null = null;
  private alive = false;
  private readonly opts: SimAgentOptions;

  constructor(readonly node: Node, private readonly clock: Clock, private readonly leaderDispatcher: () => Dispatcher | undefined, opts: Partial<SimAgentOptions> = {}) {
    this.opts = { startDelayMs: 200, stopDelayMs: 100, failingImages: new Set(), ...opts };
  }

  start(): void {
    this.alive = true;
    this.beat();
  }

  /** The host dies: no more heartbeats or reports. */
  stop(): void {
    this.alive = false;
    this.hb?.cancel();
    this.session = null;
    for (const l of this.tasks.values()) l.timer?.cancel();
  }

  /**
   * The agent's process dies: as stop(), and its connection closes, which the dispatcher's
   * transport notices at once (a cut network, stop(), closes nothing).
   */
  crash(): void {
    const s = this.session;
    this.stop();
    if (s !== null) s.dispatcher.disconnected(this.node.id, s.id);
  }

  /** Task ids this agent runs now. */
  running(): string[] {
    return [...this.tasks.values()].filter((l) => l.state === TaskState.RUNNING).map((l) => l.task.id);
  }

  /** The container of a task exits with the given code. */
  exit(taskId: string, exitCode: number): void {
    const l = this.tasks.get(taskId);
    if (l === undefined || l.state !== TaskState.RUNNING) throw new Error(`task ${taskId} is not running on ${this.node.id}`);
    this.report(l, exitCode === 0 ? TaskState.COMPLETE : TaskState.FAILED, exitCode, exitCode === 0 ? 'finished' : `task: non-zero exit (${exitCode})`);
  }

  private beat(): void {
    if (!this.alive) return;
    const d = this.leaderDispatcher();
    if (this.session !== null && this.session.dispatcher !== d) this.session = null;
    let period = 1000;
    if (this.session !== null) {
      try {
        period = this.session.dispatcher.heartbeat(this.node.id, this.session.id).heartbeatPeriodMs;
      } catch {
        this.session = null;
      }
    }
    if (this.session === null && d !== undefined && !this.registering) this.register(d);
    this.hb = this.clock.setTimer(this.session === null ? 500 : period, () => this.beat());
  }

  private register(d: Dispatcher): void {
    this.registering = true;
    d.register(this.node.id, this.node.description, '127.0.0.1', (m) => this.onMessage(d, m))
      .then((r) => {
        if (!this.alive) return;
        this.session = { dispatcher: d, id: r.sessionId };
        // Reports queued at a dispatcher that lost leadership are gone: a new session re-reports every task.
        const all = [...this.tasks.values()].flatMap((l) => (l.status === null ? [] : [{ taskId: l.task.id, status: l.status }]));
        if (all.length > 0) d.reportStatus(this.node.id, r.sessionId, all);
      })
      .catch(() => undefined)
      .finally(() => { this.registering = false; });
  }

  private onMessage(d: Dispatcher, m: AssignmentMessage): void {
    if (!this.alive) return;
    if (m.type === 'complete') {
      const keep = new Set(m.changes.map((c) => (c.action === 'update' ? c.task.id : c.taskId)));
      for (const [id, l] of this.tasks) if (!keep.has(id)) { l.timer?.cancel(); this.tasks.delete(id); }
    } else if (this.session?.dispatcher === d && m.sequence !== this.lastSequence + 1) {
      this.gaps++;
    }
    this.lastSequence = m.sequence;
    for (const c of m.changes) {
      if (c.action === 'remove') {
        this.tasks.get(c.taskId)?.timer?.cancel();
        this.tasks.delete(c.taskId);
        continue;
      }
      let l = this.tasks.get(c.task.id);
      if (l === undefined) this.tasks.set(c.task.id, (l = { task: c.task, state: c.task.status.state, timer: null, status: null }));
      l.task = c.task;
      this.drive(l);
    }
  }

  private drive(l: Local): void {
    const t = l.task;
    if (t.desiredState > TaskState.RUNNING) {
      if (l.state <= TaskState.RUNNING) {
        l.timer?.cancel();
        l.timer = this.clock.setTimer(this.opts.stopDelayMs, () => this.report(l, TaskState.SHUTDOWN, 0, 'shutdown'));
      }
      return;
    }
    if (l.timer !== null) return;
    if (l.state === TaskState.ASSIGNED && t.desiredState < TaskState.RUNNING) {
      // Prepared, and held until the manager says run (a stop-first replacement).
      this.report(l, TaskState.READY, 0, 'prepared');
      return;
    }
    if (l.state !== TaskState.ASSIGNED && l.state !== TaskState.READY) return;
    if (t.desiredState !== TaskState.RUNNING) return;
    this.report(l, TaskState.STARTING, 0, 'starting');
    const fails = this.opts.failingImages.has(t.spec.container.image);
    l.timer = this.clock.setTimer(this.opts.startDelayMs, () => {
      l.timer = null;
      if (fails) this.report(l, TaskState.FAILED, 1, 'task: non-zero exit (1)');
      else this.report(l, TaskState.RUNNING, 0, 'started');
    });
  }

  private report(l: Local, state: number, exitCode: number, message: string): void {
    if (!this.alive || state < l.state) return;
    l.state = state;
    const status: TaskStatus = { state, timestamp: this.clock.now(), message, err: state === TaskState.FAILED ? message : '', exitCode, containerId: `c-${l.task.id}`, pid: 0 };
    l.status = status;
    if (this.session === null) return;
    try {
      this.session.dispatcher.reportStatus(this.node.id, this.session.id, [{ taskId: l.task.id, status }]);
    } catch {
      this.session = null;
    }
  }
}
