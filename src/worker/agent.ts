import type { Clock, TimerHandle } from '../types/clock';
import { InvalidArgumentError } from '../types/errors';
import type { NodeDescription, Task } from '../types/objects';
import type { Random } from '../types/random';
import type { NodeIdentity } from '../pki/node-identity';
import { DispatcherClient, type WireAssignments } from './dispatcher-client';
import type { Executor } from './executor';
import type { StatusReporter } from './status-reporter';

/** How an agent reaches the managers. */
export interface AgentOptions {
  readonly identity: NodeIdentity;
  /** host:port of every manager known; the agent goes round them. */
  readonly managers: readonly string[];
  readonly description: NodeDescription;
  /** The address the node reports (where other nodes reach it). */
  readonly addr: string;
  readonly executor: Executor;
  readonly reporter: StatusReporter;
  readonly clock: Clock;
  readonly random: Random;
  /** First backoff step after a failed session; doubles up to half a heartbeat period. */
  readonly backoffBaseMs?: number;
  /** Heartbeat period assumed before a manager has told one. */
  readonly initialPeriodMs?: number;
  readonly onError?: (err: unknown) => void;
}

/** What an agent has done, for tests and diagnostics. */
export interface AgentStats {
  sessions: number;
  fullResyncs: number;
  manager: string;
}

/**
 * Upper bound of the jittered wait before the next session attempt: exponential from base,
 * capped at half a heartbeat period so that a lost manager is replaced within two periods
 * (one to notice, at most half to wait, the rest to connect). Full jitter spreads the agents
 * of a dead manager over the window instead of all at once.
 */
export function backoffMs(attempt: number, baseMs: number, periodMs: number, random: Random): number {
  const cap = Math.max(baseMs, Math.floor(periodMs / 2));
  return Math.floor(random.float() * Math.min(cap, baseMs * 2 ** Math.min(attempt, 20)));
}

/** What to do with an assignments message given the last sequence number applied in this session. */
export function sequenceVerdict(lastSeq: number, m: { type: string; sequence: number }): 'apply' | 'resync' {
  if (m.type === 'complete') return 'apply';
  // Increments only make sense on top of the one before: a gap means the set here is wrong.
  return lastSeq > 0 && m.sequence === lastSeq + 1 ? 'apply' : 'resync';
}

/**
 * The worker's session with the leader's dispatcher (DESIGN.md §5.4): opens it on one manager
 * after another until one leads, heartbeats at the period the manager sets, applies the complete
 * set and then increments, and re-reports every held task's status at the start of each session.
 */
export class Agent {
  readonly stats: AgentStats = { sessions: 0, fullResyncs: 0, manager: '' };
  private managers: string[];
  private next = 0;
  private periodMs: number;
  private stopped = false;
  private endSession: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private sleepTimer: { handle: TimerHandle; wake: () => void } | null = null;

  constructor(private readonly o: AgentOptions) {
    if (o.managers.length === 0) throw new InvalidArgumentError('the agent needs at least one manager address');
    this.managers = [...o.managers];
    this.periodMs = o.initialPeriodMs ?? 5000;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Replaces the list of managers to try (e.g. as learned from the cluster). */
  setManagers(addrs: readonly string[]): void {
    if (addrs.length > 0) this.managers = [...addrs];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endSession?.();
    if (this.sleepTimer !== null) { this.sleepTimer.handle.cancel(); this.sleepTimer.wake(); }
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const addr = this.managers[this.next % this.managers.length];
      const established = await this.session(addr).catch((err: unknown) => { this.o.onError?.(err); return false; });
      if (this.stopped) break;
      // The same manager is tried again only after all the others.
      this.next = (this.next + 1) % this.managers.length;
      attempt = established ? 0 : attempt + 1;
      await this.sleep(backoffMs(attempt, this.o.backoffBaseMs ?? 100, this.periodMs, this.o.random));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.o.clock.setTimer(ms, () => { this.sleepTimer = null; resolve(); });
      this.sleepTimer = { handle, wake: resolve };
    });
  }

  /** One session; resolves when it ends, true if it was established. */
  private session(addr: string): Promise<boolean> {
    const client = new DispatcherClient(addr, this.o.identity);
    const stream = client.session(JSON.stringify(this.o.description), this.o.addr);
    let sessionId = '';
    let lastSeq = 0;
    let heartbeat: TimerHandle | null = null;
    let applying: Promise<void> = Promise.resolve();
    return new Promise<boolean>((resolve) => {
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        this.endSession = null;
        heartbeat?.cancel();
        this.o.reporter.setSender(undefined);
        stream.cancel();
        client.close();
        resolve(sessionId !== '');
      };
      this.endSession = end;
      const beat = (): void => {
        heartbeat = this.o.clock.setTimer(this.periodMs, () => {
          client.heartbeat(sessionId, this.periodMs).then((r) => {
            if (r.periodMs > 0) this.periodMs = r.periodMs;
            if (!ended) beat();
          }, end);
        });
      };
      stream.on('data', (m: WireAssignments) => {
        if (ended) return;
        if (sessionId === '') {
          if (m.type !== 'complete') { end(); return; }
          sessionId = m.sessionId;
          if (m.heartbeatPeriodMs > 0) this.periodMs = m.heartbeatPeriodMs;
          this.stats.sessions++;
          this.stats.manager = addr;
          beat();
          // Whatever the previous dispatcher had queued may be lost: every held task is reported again.
          for (const s of this.o.executor.statuses()) this.o.reporter.report(s.taskId, s.status);
          const sid = sessionId;
          this.o.reporter.setSender((updates) => client.updateTaskStatus(sid, updates.map((u) => ({ taskId: u.taskId, statusJson: JSON.stringify(u.status) })), this.periodMs));
        } else if (sequenceVerdict(lastSeq, m) === 'resync') {
          // A gap: increments were lost, so the set here is wrong. A new session starts with the complete set.
          this.stats.fullResyncs++;
          end();
          return;
        }
        lastSeq = m.sequence;
        applying = applying.then(() => this.apply(m)).catch((err: unknown) => this.o.onError?.(err));
      });
      stream.on('error', end);
      stream.on('end', end);
    });
  }

  private async apply(m: WireAssignments): Promise<void> {
    const ex = this.o.executor;
    if (m.type === 'complete') {
      await ex.applyComplete(m.changes.filter((c) => c.action === 'update').map((c) => JSON.parse(c.taskJson) as Task));
      return;
    }
    for (const c of m.changes) {
      if (c.action === 'update') await ex.update(JSON.parse(c.taskJson) as Task);
      else if (c.action === 'remove') await ex.remove(c.taskId);
    }
  }
}
