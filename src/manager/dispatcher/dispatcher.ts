import type { Clock, TimerHandle } from '../../types/clock';
import { InvalidArgumentError, NotFoundError, ShoalError, UnavailableError } from '../../types/errors';
import { DEFAULT_CLUSTER_SPEC, newObjectId, TaskState, type Node, type NodeDescription, type Task, type TaskStatus } from '../../types/objects';
import type { Random } from '../../types/random';
import { patchTask, type StoreAction } from '../store/actions';
import type { Store, StoreEvent } from '../store/store';
import { AssignmentSet, type AssignmentMessage } from './assignments';

/** A task state change reported by an agent. */
export interface StatusReport {
  readonly taskId: string;
  readonly status: TaskStatus;
}

/** A manager an agent may open its session with, as the dispatcher tells it. */
export interface ManagerPeer {
  /** host:port of the manager's gRPC server (Node.managerStatus.addr). */
  readonly addr: string;
  /** Only the leader serves sessions, so agents try it first. */
  readonly leader: boolean;
  /** Preference among the others: 0 when the cluster finds the manager unreachable, else 1. */
  readonly weight: number;
}

/** What a session is told at registration and with every heartbeat. */
export interface SessionInfo {
  readonly heartbeatPeriodMs: number;
  readonly managers: readonly ManagerPeer[];
}

/** Settings of the dispatcher. */
export interface DispatcherOptions {
  /** A node is marked down after this many heartbeat periods without a heartbeat (SwarmKit: 3). */
  readonly missedHeartbeatsMax: number;
  /** Status reports are written at most this long after they arrive... */
  readonly statusFlushMs: number;
  /** ...or as soon as this many are queued. */
  readonly statusBatchMax: number;
  /**
   * A node whose session stream closed under it (its agent's process or host died, so the
   * connection was closed or reset) is marked down this long after, unless it opens a new
   * session meanwhile; capped by the heartbeat window. A node that just goes silent (a cut
   * network closes nothing) is still caught by the heartbeat deadline.
   */
  readonly disconnectGraceMs: number;
}

const DEFAULTS: DispatcherOptions = { missedHeartbeatsMax: 3, statusFlushMs: 50, statusBatchMax: 1000, disconnectGraceMs: 2000 };

interface Session {
  readonly id: string;
  readonly nodeId: string;
  readonly send: (m: AssignmentMessage) => void;
  /** Called when the dispatcher ends the session (node marked down, leadership lost). */
  readonly onEnd: () => void;
  readonly assignments: AssignmentSet;
}

/** Whether status a is later than b: task states only move forward, and within a state the later report is newer. */
function isNewer(a: TaskStatus, b: TaskStatus): boolean {
  return a.state > b.state || (a.state === b.state && a.timestamp > b.timestamp);
}

/** Tasks an agent is responsible for: assigned to it and not yet deleted. */
function assignedTo(t: Task | undefined, nodeId: string): boolean {
  return t !== undefined && t.nodeId === nodeId && t.status.state >= TaskState.ASSIGNED;
}

/**
 * The leader's side of worker sessions (DESIGN.md §5.4): registration, heartbeats with a
 * deadline per node, the assignment stream, and status reports written to the store in batches.
 * Transport-free: the gRPC service is a thin adapter over these calls.
 */
export class Dispatcher {
  private readonly opts: DispatcherOptions;
  private readonly sessions = new Map<string, Session>(); // by node id
  private readonly deadlines = new Map<string, TimerHandle>();
  private readonly changedByNode = new Map<string, Map<string, Task | undefined>>();
  private flushAssignmentsTimer: TimerHandle | null = null;
  private reports = new Map<string, { nodeId: string; status: TaskStatus }>();
  private statusTimer: TimerHandle | null = null;
  /** A status batch is being written (at most one at a time). */
  private flushing = false;
  private unwatch: (() => void) | null = null;
  private running = false;
  /** managers(), kept until a node changes: every heartbeat carries it. */
  private managerCache: ManagerPeer[] | null = null;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly random: Random, opts: Partial<DispatcherOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** The heartbeat period in force (cluster setting, 5 s by default). */
  heartbeatPeriodMs(): number {
    return this.store.view.cluster()?.spec.dispatcher.heartbeatPeriodMs ?? DEFAULT_CLUSTER_SPEC.dispatcher.heartbeatPeriodMs;
  }

  /** Worker sessions open now (for metrics). */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** Starts on leadership. Nodes the store says are up get a grace period to reconnect before they are marked down. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.store.watch((e) => this.onStoreEvent(e));
    for (const n of this.store.view.nodes()) if (n.status.state === 'ready') this.armDeadline(n.id);
  }

  /** Stops on loss of leadership: sessions end, agents re-register with the new leader. */
  stop(): void {
    this.running = false;
    this.managerCache = null;
    this.unwatch?.();
    this.unwatch = null;
    for (const t of this.deadlines.values()) t.cancel();
    this.deadlines.clear();
    const ended = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of ended) s.onEnd();
    this.changedByNode.clear();
    this.flushAssignmentsTimer?.cancel();
    this.flushAssignmentsTimer = null;
    this.statusTimer?.cancel();
    this.statusTimer = null;
    this.reports.clear();
  }

  /** A worker opens a session: the node becomes READY and gets its complete assignment set at once. */
  async register(nodeId: string, description: NodeDescription, addr: string, send: (m: AssignmentMessage) => void, onEnd: () => void = () => undefined): Promise<SessionInfo & { sessionId: string }> {
    this.mustRun();
    const node = this.store.view.get('node', nodeId);
    if (node === undefined) throw new NotFoundError(`node ${nodeId} is not a member of this cluster`, { hint: 'join the swarm again' });
    await this.updateNode(nodeId, (n) => ({ ...n, description, status: { state: 'ready', addr, message: '' } }));
    this.mustRun();
    const session: Session = { id: newObjectId(this.random), nodeId, send, onEnd, assignments: new AssignmentSet() };
    const previous = this.sessions.get(nodeId);
    this.sessions.set(nodeId, session);
    previous?.onEnd();
    this.changedByNode.delete(nodeId);
    this.armDeadline(nodeId);
    const tasks = this.store.view.tasksOfNode(nodeId).filter((t) => assignedTo(t, nodeId));
    send(session.assignments.complete(tasks));
    return { sessionId: session.id, heartbeatPeriodMs: this.heartbeatPeriodMs(), managers: this.managers() };
  }

  /** A heartbeat pushes the node's deadline back; an unknown session must register again. */
  heartbeat(nodeId: string, sessionId: string): SessionInfo {
    this.sessionOf(nodeId, sessionId);
    this.armDeadline(nodeId);
    return { heartbeatPeriodMs: this.heartbeatPeriodMs(), managers: this.managers() };
  }

  /**
   * The managers agents should know, from the store's manager nodes (their managerStatus.addr):
   * the leader first, then the reachable ones, so that a restarted or re-homed agent finds one.
   */
  managers(): readonly ManagerPeer[] {
    if (this.running && this.managerCache !== null) return this.managerCache;
    const out: ManagerPeer[] = [];
    for (const n of this.store.view.nodes()) {
      const m = n.managerStatus;
      if (m === undefined || m.addr === '') continue;
      out.push({ addr: m.addr, leader: m.leader, weight: m.reachability === 'unreachable' ? 0 : 1 });
    }
    out.sort((a, b) => Number(b.leader) - Number(a.leader) || b.weight - a.weight || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    if (this.running) this.managerCache = out;
    return out;
  }

  /** The node's description or address changed during its session: written to its Node object. */
  async updateDescription(nodeId: string, sessionId: string, description: NodeDescription, addr: string): Promise<void> {
    this.sessionOf(nodeId, sessionId);
    const n = this.store.view.get('node', nodeId);
    if (n !== undefined && n.status.addr === addr && JSON.stringify(n.description) === JSON.stringify(description)) return;
    await this.updateNode(nodeId, (x) => ({ ...x, description, status: { ...x.status, addr } }));
  }

  /**
   * The transport saw the session's stream close (cancelled by the agent, or its connection
   * gone). The session ends here, and the node gets disconnectGraceMs to open a new one — an
   * agent that is alive reconnects within a fraction of a heartbeat period — before it is marked
   * down, instead of the whole heartbeat window: SwarmKit waits for the heartbeats alone, which
   * is most of the 15 s a dead worker's tasks wait to run elsewhere.
   */
  disconnected(nodeId: string, sessionId: string): void {
    if (!this.running) return;
    const s = this.sessions.get(nodeId);
    if (s === undefined || s.id !== sessionId) return; // an older session, already replaced
    this.sessions.delete(nodeId);
    this.changedByNode.delete(nodeId);
    this.armDeadline(nodeId, this.opts.disconnectGraceMs);
  }

  /** Queues task status reports; they reach the store in batches. */
  reportStatus(nodeId: string, sessionId: string, reports: readonly StatusReport[]): void {
    this.sessionOf(nodeId, sessionId);
    for (const r of reports) {
      if (typeof r.taskId !== 'string' || typeof r.status?.state !== 'number') throw new InvalidArgumentError(`status report needs a taskId and a numeric status.state, got ${JSON.stringify(r)}`);
      const queued = this.reports.get(r.taskId);
      if (queued === undefined || !isNewer(queued.status, r.status)) this.reports.set(r.taskId, { nodeId, status: r.status });
    }
    this.queueStatusFlush();
  }

  /**
   * Flushes queued reports statusFlushMs from now, or at once when statusBatchMax are queued —
   * but never while a flush is in flight: two batches in flight read the same task versions, so
   * the second is refused by the first's commit, and their re-queued reports must then be
   * sorted out again. The flush in flight looks at the queue when it ends.
   */
  private queueStatusFlush(delayMs = this.opts.statusFlushMs): void {
    if (!this.running || this.flushing || this.reports.size === 0) return;
    if (this.reports.size >= this.opts.statusBatchMax) {
      void this.flushStatus();
      return;
    }
    this.statusTimer ??= this.clock.setTimer(delayMs, () => void this.flushStatus());
  }

  private mustRun(): void {
    if (!this.running) throw new UnavailableError('this manager is not the leader', { hint: 'connect to the leader' });
  }

  private sessionOf(nodeId: string, sessionId: string): Session {
    this.mustRun();
    const s = this.sessions.get(nodeId);
    if (s === undefined || s.id !== sessionId) throw new NotFoundError(`session ${sessionId} of node ${nodeId} is not known to this dispatcher`, { hint: 'register again' });
    return s;
  }

  private armDeadline(nodeId: string, withinMs = Infinity): void {
    this.deadlines.get(nodeId)?.cancel();
    const ms = Math.min(withinMs, this.heartbeatPeriodMs() * this.opts.missedHeartbeatsMax);
    this.deadlines.set(nodeId, this.clock.setTimer(ms, () => void this.expire(nodeId)));
  }

  private async expire(nodeId: string): Promise<void> {
    this.deadlines.delete(nodeId);
    const s = this.sessions.get(nodeId);
    this.sessions.delete(nodeId);
    s?.onEnd();
    if (!this.running) return;
    await this.updateNode(nodeId, (n) => ({ ...n, status: { ...n.status, state: 'down', message: 'heartbeat failure' } })).catch(() => {
      if (this.running && !this.sessions.has(nodeId)) this.armDeadline(nodeId); // try again later
    });
  }

  /** Read-modify-write of a node, retried on a version conflict. */
  private async updateNode(nodeId: string, change: (n: Node) => Node): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const n = this.store.view.get('node', nodeId);
      if (n === undefined) return;
      try {
        await this.store.write([{ op: 'update', target: { kind: 'node', object: change(n) } }]);
        return;
      } catch (err) {
        if (!ShoalError.is(err, 'Conflict') || attempt >= 3) throw err;
      }
    }
  }

  private onStoreEvent(e: StoreEvent): void {
    for (const c of e.changes) {
      if (c.kind === 'node') this.managerCache = null;
      if (c.kind !== 'task') continue;
      const before = c.before as Task | undefined;
      const after = c.after as Task | undefined;
      for (const nodeId of new Set([before?.nodeId, after?.nodeId])) {
        if (nodeId === undefined || nodeId === '' || !this.sessions.has(nodeId)) continue;
        if (!assignedTo(before, nodeId) && !assignedTo(after, nodeId)) continue;
        let m = this.changedByNode.get(nodeId);
        if (m === undefined) this.changedByNode.set(nodeId, (m = new Map<string, Task | undefined>()));
        m.set(c.id, assignedTo(after, nodeId) ? after : undefined);
      }
    }
    if (e.reset) {
      this.managerCache = null;
      // Agents re-register for a complete set.
      const ended = [...this.sessions.values()];
      this.sessions.clear();
      for (const s of ended) s.onEnd();
    }
    if (this.changedByNode.size > 0 && this.flushAssignmentsTimer === null) {
      this.flushAssignmentsTimer = this.clock.setTimer(0, () => this.flushAssignments());
    }
  }

  private flushAssignments(): void {
    this.flushAssignmentsTimer = null;
    for (const [nodeId, changed] of this.changedByNode) {
      const s = this.sessions.get(nodeId);
      const msg = s?.assignments.incremental(changed);
      if (s !== undefined && msg !== null && msg !== undefined) s.send(msg);
    }
    this.changedByNode.clear();
  }

  private async flushStatus(): Promise<void> {
    this.statusTimer?.cancel();
    this.statusTimer = null;
    if (this.flushing || !this.running) return;
    this.flushing = true;
    let failed = false;
    try {
      failed = await this.writeStatus();
    } finally {
      this.flushing = false;
    }
    // What arrived meanwhile goes next: at once after a commit, after a pause after a refusal.
    this.queueStatusFlush(failed ? this.opts.statusFlushMs : 0);
  }

  /** Writes one batch of queued reports; true if part of it was refused (and re-queued). */
  private async writeStatus(): Promise<boolean> {
    const batch = this.reports;
    this.reports = new Map();
    const updates: StoreAction[] = [];
    for (const [taskId, r] of batch) {
      const t = this.store.view.get('task', taskId);
      // Only the agent the task is assigned to may report on it, and states only move forward.
      if (t === undefined || t.nodeId !== r.nodeId || r.status.state < t.status.state) continue;
      if (r.status.state === t.status.state && r.status.timestamp === t.status.timestamp) continue;
      updates.push(patchTask(t, { status: r.status }));
    }
    // The agent was acknowledged when the report was queued, so a report must not be lost here: a
    // conflict (the manager changed the task meanwhile) or a proposal that could not commit puts
    // the batch back, re-applied on top of the store (writeBatched reports those, never throws).
    const out = await this.store.writeBatched(updates);
    if (out.errors.length === 0 || !this.running) return false;
    // Put back under any report that arrived meanwhile, unless that one is older: the newest
    // report of a task must never be dropped in favour of an earlier one.
    for (const [taskId, r] of batch) {
      const queued = this.reports.get(taskId);
      if (queued === undefined || isNewer(r.status, queued.status)) this.reports.set(taskId, r);
    }
    return true;
  }
}
