import type { Clock, TimerHandle } from '../types/clock';
import { InvalidArgumentError } from '../types/errors';
import type { Labels, NodeDescription, Task } from '../types/objects';
import type { Random } from '../types/random';
import type { NodeIdentity } from '../pki/node-identity';
import { DispatcherClient, managersOfRefusal, type WireAssignments, type WireManagerPeer } from './dispatcher-client';
import type { Executor } from './executor';
import type { StatusReporter } from './status-reporter';

/** Where the agent keeps the managers it learned (WorkerStore implements it). */
export interface ManagerListStore {
  managers(): Promise<string[]>;
  putManagers(addrs: readonly string[]): Promise<void>;
}

/**
 * How an agent reaches the managers. The daemon builds it; every field added after the first
 * version is optional. A daemon wires it as:
 *
 *   new Agent({ identity, managers: [joinAddr], description: describeHost(hostname), addr,
 *     executor, reporter, clock, random, store: workerStore, labels: engineLabels,
 *     refreshDescription: () => describeHost(hostname) })
 *
 * and calls `setLabels` when its engine labels change (a config reload). On leaving the swarm,
 * `workerStore.clear()` forgets the managers and tasks of that swarm.
 */
export interface AgentOptions {
  readonly identity: NodeIdentity;
  /**
   * host:port of the managers known from configuration (the join address). The agent goes round
   * them, and replaces the list with the one each session tells it. May be empty when `store`
   * holds a list learned before.
   */
  readonly managers: readonly string[];
  /** What the host offers (describeHost()); labels and addresses below are added to it. */
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
  /** Persists the manager list learned from sessions and reads it back at start (WorkerStore). */
  readonly store?: ManagerListStore;
  /** Engine labels (`shoald --label k=v`), reported in the description; change them with setLabels. */
  readonly labels?: Labels;
  /** The host's addresses, reported in the description; change them with setAddresses. */
  readonly addresses?: readonly string[];
  /** Called at every heartbeat: a changed result is reported without a new session (e.g. describeHost). */
  readonly refreshDescription?: () => NodeDescription;
  /** Called when the manager list changes (learned from a session). */
  readonly onManagers?: (addrs: readonly string[]) => void;
}

/** What an agent has done, for tests and diagnostics. */
export interface AgentStats {
  sessions: number;
  fullResyncs: number;
  manager: string;
  /** Description updates the dispatcher acknowledged within a session. */
  descriptionUpdates: number;
  /** The heartbeat period in force, as the manager set it. */
  periodMs: number;
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

/**
 * Wait before the first attempt after an established session ended: full jitter over a quarter
 * period, so the agents of a manager that died do not all arrive at the next one at once, and
 * the budget of two periods holds (at most one and a half to notice a silent manager, see
 * heartbeatDeadlineMs, a quarter to wait, the rest to connect).
 */
export function reconnectDelayMs(periodMs: number, random: Random): number {
  return Math.floor(random.float() * Math.floor(periodMs / 4));
}

/**
 * How long a heartbeat may go unanswered before the agent gives the manager up: half a period.
 * Heartbeats go out one period after the last answer, so a manager that went silent is noticed
 * within one and a half periods.
 */
export function heartbeatDeadlineMs(periodMs: number): number {
  return Math.max(1, Math.floor(periodMs / 2));
}

/** What to do with an assignments message given the last sequence number applied in this session. */
export function sequenceVerdict(lastSeq: number, m: { type: string; sequence: number }): 'apply' | 'resync' {
  if (m.type === 'complete') return 'apply';
  // Increments only make sense on top of the one before: a gap means the set here is wrong.
  return lastSeq > 0 && m.sequence === lastSeq + 1 ? 'apply' : 'resync';
}

/** The addresses of a manager list as told by a dispatcher, in its order (leader first); empty if none. */
export function managerAddrs(peers: readonly WireManagerPeer[]): string[] {
  const out: string[] = [];
  for (const p of peers) if (typeof p.addr === 'string' && p.addr !== '' && !out.includes(p.addr)) out.push(p.addr);
  return out;
}

/** How a session ended: never established, ended after it was, or ended to get the complete set again. */
type SessionEnd = 'failed' | 'ended' | 'resync';

/**
 * The worker's session with the leader's dispatcher (DESIGN.md §5.4): opens it on one manager
 * after another until one leads, heartbeats at the period the manager sets, applies the complete
 * set and then increments, re-reports every held task's status at the start of each session,
 * learns the managers from the session, and reports its description when it changes.
 */
export class Agent {
  readonly stats: AgentStats = { sessions: 0, fullResyncs: 0, manager: '', descriptionUpdates: 0, periodMs: 0 };
  private managers: string[];
  private next = 0;
  private periodMs: number;
  private stopped = false;
  private endSession: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private sleepTimer: { handle: TimerHandle; wake: () => void } | null = null;
  /** Assignments are applied one message at a time, across sessions too. */
  private applying: Promise<void> = Promise.resolve();
  private base: NodeDescription;
  private labels: Labels | undefined;
  private addresses: readonly string[] | undefined;
  private addr: string;
  /** The leader as the last manager list named it: tried next after a session ends elsewhere. */
  private leaderHint: string | undefined;
  /** Pushes the description to the current session, if any. */
  private pushDescription: (() => void) | null = null;

  constructor(private readonly o: AgentOptions) {
    if (o.managers.length === 0 && o.store === undefined) throw new InvalidArgumentError('the agent needs at least one manager address', { hint: 'give the address of a manager to join' });
    this.managers = [...o.managers];
    this.periodMs = o.initialPeriodMs ?? 5000;
    this.stats.periodMs = this.periodMs;
    this.base = o.description;
    this.labels = o.labels;
    this.addresses = o.addresses;
    this.addr = o.addr;
  }

  start(): void {
    this.loop = this.run();
  }

  /** The managers the agent goes round now. */
  managerList(): readonly string[] {
    return this.managers;
  }

  /** Replaces the list of managers to try (e.g. as learned from the cluster); an empty list is ignored. */
  setManagers(addrs: readonly string[]): void {
    if (addrs.length === 0 || sameList(addrs, this.managers)) return;
    const current = this.managers[this.next % Math.max(1, this.managers.length)];
    this.managers = [...addrs];
    // The rotation goes on from the manager in use, so the next attempt is another one.
    this.next = Math.max(0, this.managers.indexOf(current));
    this.o.onManagers?.(this.managers);
    this.o.store?.putManagers(this.managers).catch((err: unknown) => this.o.onError?.(err));
  }

  /** The description reported now: the host's, with the engine labels and addresses. */
  description(): NodeDescription {
    return {
      ...this.base,
      ...(this.labels !== undefined ? { labels: this.labels } : {}),
      ...(this.addresses !== undefined ? { addresses: this.addresses } : {}),
    };
  }

  /** New engine labels: reported to the manager at once, without a new session. */
  setLabels(labels: Labels): void {
    this.labels = { ...labels };
    this.pushDescription?.();
  }

  /** New host addresses (and optionally a new node address): reported at once. */
  setAddresses(addresses: readonly string[], addr: string = this.addr): void {
    this.addresses = [...addresses];
    this.addr = addr;
    this.pushDescription?.();
  }

  /** A new host description (resources changed, say): reported at once. */
  setDescription(description: NodeDescription): void {
    this.base = description;
    this.pushDescription?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endSession?.();
    if (this.sleepTimer !== null) { this.sleepTimer.handle.cancel(); this.sleepTimer.wake(); }
    await this.loop;
    await this.applying;
  }

  private async run(): Promise<void> {
    if (this.o.store !== undefined) {
      // Managers learned before a restart come first: the configured join address may be long gone.
      const saved = await this.o.store.managers().catch((err: unknown) => { this.o.onError?.(err); return [] as string[]; });
      this.managers = [...saved, ...this.managers.filter((a) => !saved.includes(a))];
    }
    if (this.managers.length === 0) {
      this.o.onError?.(new InvalidArgumentError('the agent knows no manager address', { hint: 'join the swarm again' }));
      return;
    }
    let attempt = 0;
    while (!this.stopped) {
      const addr = this.managers[this.next % this.managers.length];
      // A bad address throws at once: that is a failed attempt too, not the end of the loop.
      const end = await Promise.resolve().then(() => this.session(addr)).catch((err: unknown): SessionEnd => { this.o.onError?.(err); return 'failed'; });
      if (this.stopped) break;
      if (end === 'resync') {
        // A gap: the same manager (it leads) is asked again for the complete set, after a short jittered wait.
        await this.sleep(backoffMs(0, this.o.backoffBaseMs ?? 100, this.periodMs, this.o.random));
        continue;
      }
      // The leader named by a refusing manager is tried next; otherwise the same manager is tried again only after all the others.
      const hint = this.leaderHint;
      this.leaderHint = undefined;
      this.next = hint !== undefined && hint !== addr && this.managers.includes(hint) ? this.managers.indexOf(hint) : (this.managers.indexOf(addr) + 1) % this.managers.length;
      attempt = end === 'ended' ? 0 : attempt + 1;
      await this.sleep(end === 'ended' ? reconnectDelayMs(this.periodMs, this.o.random) : backoffMs(attempt, this.o.backoffBaseMs ?? 100, this.periodMs, this.o.random));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.o.clock.setTimer(ms, () => { this.sleepTimer = null; resolve(); });
      this.sleepTimer = { handle, wake: resolve };
    });
  }

  /** One session; resolves when it ends. */
  private session(addr: string): Promise<SessionEnd> {
    const client = new DispatcherClient(addr, this.o.identity);
    let reported = JSON.stringify([this.description(), this.addr]);
    const stream = client.session(JSON.stringify(this.description()), this.addr);
    let sessionId = '';
    let lastSeq = 0;
    let heartbeat: TimerHandle | null = null;
    let describing = false;
    return new Promise<SessionEnd>((resolve) => {
      let ended = false;
      const end = (how?: SessionEnd): void => {
        if (ended) return;
        ended = true;
        this.endSession = null;
        this.pushDescription = null;
        heartbeat?.cancel();
        this.o.reporter.setSender(undefined);
        stream.cancel();
        client.close();
        resolve(how ?? (sessionId !== '' ? 'ended' : 'failed'));
      };
      this.endSession = end;
      // Sends the description if it differs from what this session reported; a failure is retried at the next heartbeat.
      const describe = (): void => {
        if (ended || sessionId === '' || describing) return;
        const now = JSON.stringify([this.description(), this.addr]);
        if (now === reported) return;
        describing = true;
        client.updateDescription(sessionId, JSON.stringify(this.description()), this.addr, this.periodMs).then(() => {
          reported = now;
          this.stats.descriptionUpdates++;
        }, (err: unknown) => this.o.onError?.(err)).finally(() => {
          describing = false;
          describe(); // changed again meanwhile
        });
      };
      const beat = (): void => {
        heartbeat = this.o.clock.setTimer(this.periodMs, () => {
          if (this.o.refreshDescription !== undefined) this.base = this.o.refreshDescription();
          describe();
          client.heartbeat(sessionId, heartbeatDeadlineMs(this.periodMs)).then((r) => {
            if (r.periodMs > 0) this.stats.periodMs = this.periodMs = r.periodMs;
            this.learn(r.managers ?? []);
            if (!ended) beat();
          }, () => end());
        });
      };
      stream.on('data', (m: WireAssignments) => {
        if (ended) return;
        if (sessionId === '') {
          if (m.type !== 'complete') { end(); return; }
          sessionId = m.sessionId;
          this.established(addr, m, client);
          this.pushDescription = describe;
          beat();
          describe(); // changed while the session was being opened
        } else if (sequenceVerdict(lastSeq, m) === 'resync') {
          // A gap: increments were lost, so the set here is wrong. A new session starts with the complete set.
          this.stats.fullResyncs++;
          end('resync');
          return;
        }
        if (m.type === 'complete') this.learn(m.managers ?? []);
        lastSeq = m.sequence;
        this.applying = this.applying.then(() => this.apply(m)).catch((err: unknown) => this.o.onError?.(err));
      });
      stream.on('error', (err) => {
        // A manager that does not lead names the managers it knows: an agent that joined through it finds the leader.
        if (sessionId === '') this.learn(managersOfRefusal(err));
        end();
      });
      stream.on('end', () => end());
    });
  }

  /** A manager list told by a dispatcher (leader first): replaces the list, and names the leader to try next. */
  private learn(peers: readonly WireManagerPeer[]): void {
    this.setManagers(managerAddrs(peers));
    this.leaderHint = peers.find((p) => p.leader === true)?.addr;
  }

  /** The first message of a session: the session is up, and every held task's status goes to it. */
  private established(addr: string, m: WireAssignments, client: DispatcherClient): void {
    if (m.heartbeatPeriodMs > 0) this.stats.periodMs = this.periodMs = m.heartbeatPeriodMs;
    this.stats.sessions++;
    this.stats.manager = addr;
    // Whatever the previous dispatcher had queued may be lost: every held task is reported again.
    for (const s of this.o.executor.statuses()) this.o.reporter.report(s.taskId, s.status);
    const sid = m.sessionId;
    this.o.reporter.setSender((updates) => client.updateTaskStatus(sid, updates.map((u) => ({ taskId: u.taskId, statusJson: JSON.stringify(u.status) })), this.periodMs));
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

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
