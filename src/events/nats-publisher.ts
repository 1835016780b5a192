import { connect, Events, headers, type NatsConnection, type Subscription } from 'nats';
import type { ReplicatedLog } from '../manager/replicated-log';
import { ShoalError } from '../types/errors';
import type { EventBus } from './bus';
import { compareEvents, type ShoalEvent } from './event';

/** Settings of the NATS publisher. */
export interface NatsPublisherOptions {
  /** `nats://host:port` */
  readonly url: string;
  readonly bus: EventBus;
  /** Leadership of this manager: only the leader publishes. */
  readonly log: Pick<ReplicatedLog, 'isLeader' | 'onLeadershipChange'>;
  /** The cluster id once known (the subject prefix needs it). */
  readonly clusterId: () => string | undefined;
  /** Events kept while NATS is unreachable or slow; older unpublished ones are dropped (and counted). */
  readonly bufferMax?: number;
  /** Where the publisher reports; 'warn' for events lost (the buffer overflowed). */
  readonly logger?: (msg: string, level?: 'info' | 'warn') => void;
  /** Delay between reconnect attempts (ms). */
  readonly reconnectWaitMs?: number;
  /**
   * Keeps the last event known to have reached NATS across restarts, per cluster, so a restarted
   * manager does not publish again what its store replays from the Raft log.
   */
  readonly ackedStore?: AckedStore;
}

/** Where a publisher keeps the last event NATS confirmed (a manager's data root). */
export interface AckedStore {
  load(clusterId: string): EventKey | undefined;
  save(clusterId: string, key: EventKey): void;
}

/** An event's place in commit order. */
export type EventKey = { readonly index: number; readonly sub: number };

/** How often the confirmed position is saved at most (ms). */
const ackedSaveMs = 1000;

/** What the publisher has done, for metrics. */
export interface NatsPublisherStats {
  /** Messages handed to NATS (resends included). */
  readonly published: number;
  /** Events pushed out of the full buffer before they reached NATS: never sent, or sent on a connection since lost (a counter). */
  readonly dropped: number;
  /** Raft index of the last event known to have reached NATS. */
  readonly ackedIndex: number;
  readonly pending: number;
  readonly connected: boolean;
}

/** Default bound on buffered events. */
export const DEFAULT_NATS_BUFFER = 10_000;

type Key = EventKey;
const ZERO: Key = { index: 0, sub: 0 };
const MSG_ID = 'Nats-Msg-Id';

/** `shoal.<cluster id>.<type>.<action>` */
export function eventSubject(clusterId: string, e: ShoalEvent): string {
  return `shoal.${clusterId}.${e.type}.${e.action}`;
}

/** Parses an event id (`<index>.<sub>`) back into its order key. */
export function parseEventId(id: string): Key | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(id);
  return m === null ? undefined : { index: Number(m[1]), sub: Number(m[2]) };
}

/**
 * Publishes the bus's events to NATS while this manager leads. Appending to the buffer is all the
 * control plane ever does (synchronously, bounded), so NATS being slow or away never holds it up.
 *
 * Every manager buffers events after the last one known to have reached NATS: the leader learns
 * that from its own flushes, followers from watching the subject. A new leader therefore resends
 * from there; consumers de-duplicate by the `Nats-Msg-Id` header (the event id), so a leader change
 * neither loses nor repeats an event for them. A reconnect resends what was not confirmed, likewise.
 */
export class NatsPublisher {
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private readonly pending: ShoalEvent[] = [];
  /** pending[0..sent) have been handed to NATS since the last (re)connect or leadership change. */
  private sent = 0;
  private acked: Key = ZERO;
  /**
   * The furthest event handed to NATS on the current connection: an evicted event beyond it was
   * never sent, i.e. dropped. Lowered to `acked` when the connection is lost, since what was in
   * flight then may never have arrived.
   */
  private sentOnConn: Key = ZERO;
  private connected = false;
  private flushing = false;
  /** Bumped on disconnect and leadership change, so a late flush result is ignored. */
  private generation = 0;
  private drainScheduled = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  /** The saved position has been read (once the cluster id is known). */
  private restored = false;
  private droppedCount = 0;
  private droppedSinceLog = 0;
  private publishedCount = 0;
  private readonly bufferMax: number;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly log: (msg: string, level?: 'info' | 'warn') => void;

  constructor(private readonly opts: NatsPublisherOptions) {
    this.bufferMax = opts.bufferMax ?? DEFAULT_NATS_BUFFER;
    if (!Number.isInteger(this.bufferMax) || this.bufferMax < 1) throw new ShoalError('InvalidArgument', `NATS event buffer must be a positive integer, got ${this.bufferMax}`);
    if (!/^nats:\/\/[^/\s]+:\d+$/.test(opts.url)) throw new ShoalError('InvalidArgument', `--events-nats must look like nats://host:port, got ${JSON.stringify(opts.url)}`);
    this.log = opts.logger ?? (() => undefined);
    this.unsubscribe.push(opts.bus.subscribe({}, (e) => this.enqueue(e)));
    this.unsubscribe.push(opts.log.onLeadershipChange(() => this.resetCursor()));
  }

  /** Connects in the background (retrying until NATS answers) and keeps reconnecting. */
  start(): void {
    void this.run().catch((err: unknown) => this.log(`events: NATS publisher stopped: ${String(err)}`));
  }

  stats(): NatsPublisherStats {
    return { published: this.publishedCount, dropped: this.droppedCount, ackedIndex: this.acked.index, pending: this.pending.length, connected: this.connected };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.saveTimer !== undefined) this.saveAcked();
    for (const u of this.unsubscribe) u();
    const nc = this.nc;
    this.nc = undefined;
    this.connected = false;
    if (nc !== undefined && !nc.isClosed()) await nc.close();
  }

  private async run(): Promise<void> {
    const waitMs = this.opts.reconnectWaitMs ?? 500;
    let nc: NatsConnection | undefined;
    // First contact is retried here (not by the client) so that close() can end the attempts.
    while (nc === undefined) {
      if (this.closed) return;
      try {
        nc = await connect({ servers: this.opts.url, name: 'shoal-events', reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: waitMs, pingInterval: 5000 });
      } catch (err) {
        this.log(`events: NATS at ${this.opts.url} unreachable (${String(err)}); retrying`);
        await new Promise<void>((resolve) => { this.retryTimer = setTimeout(resolve, waitMs); });
      }
    }
    if (this.closed) { await nc.close(); return; }
    this.nc = nc;
    this.onConnected();
    for await (const s of nc.status()) {
      if (this.closed) break;
      if (s.type === Events.Disconnect) {
        this.connected = false;
        this.resetCursor();
        this.log(`events: NATS at ${this.opts.url} unreachable; buffering up to ${this.bufferMax} events`);
      } else if (s.type === Events.Reconnect) {
        this.log(`events: NATS at ${this.opts.url} reachable again; resending from index ${this.acked.index}`);
        this.onConnected();
      }
    }
  }

  private onConnected(): void {
    this.connected = true;
    this.generation++;
    this.flushing = false;
    this.scheduleDrain();
  }

  /** Resend everything not confirmed: after a disconnect or a leadership change. */
  private resetCursor(): void {
    this.sent = 0;
    this.sentOnConn = this.acked;
    this.generation++;
    this.flushing = false;
    this.scheduleDrain();
  }

  private enqueue(e: ShoalEvent): void {
    if (!this.restored) this.restoreAcked();
    if (compareEvents(e, this.acked) <= 0) return;
    this.pending.push(e);
    if (this.pending.length > this.bufferMax) {
      if (this.sent > 0) this.sent--;
      const old = this.pending.shift()!;
      // Followers trim their buffer too; only the leader is answerable for what it publishes.
      if (this.opts.log.isLeader() && compareEvents(old, this.sentOnConn) > 0) {
        this.droppedCount++;
        if (this.droppedSinceLog++ === 0) this.log(`events: NATS buffer full (${this.bufferMax}); dropping the oldest unpublished events`, 'warn');
      }
    }
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const nc = this.nc;
    const cid = this.opts.clusterId();
    if (nc === undefined || !this.connected || cid === undefined || this.closed) return;
    if (this.sub === undefined) this.watchSubject(nc, cid);
    if (!this.opts.log.isLeader()) return;
    try {
      for (; this.sent < this.pending.length; this.sent++) {
        const e = this.pending[this.sent];
        const h = headers();
        h.set(MSG_ID, e.id);
        nc.publish(eventSubject(cid, e), JSON.stringify(e), { headers: h });
        this.publishedCount++;
        if (compareEvents(e, this.sentOnConn) > 0) this.sentOnConn = { index: e.index, sub: e.sub };
      }
    } catch (err) {
      this.log(`events: publish to NATS failed: ${String(err)}`);
      return;
    }
    if (this.droppedSinceLog > 0) {
      this.log(`events: ${this.droppedSinceLog} events were dropped while NATS was unreachable (${this.droppedCount} in all)`, 'warn');
      this.droppedSinceLog = 0;
    }
    if (this.sent > 0) this.confirm(nc);
  }

  /** A flush round trip confirms everything sent before it reached the server. */
  private confirm(nc: NatsConnection): void {
    if (this.flushing) return;
    this.flushing = true;
    const gen = this.generation;
    const last = this.pending[this.sent - 1];
    nc.flush().then(() => {
      if (gen !== this.generation) return;
      this.flushing = false;
      if (last !== undefined) this.ack(last);
      this.scheduleDrain();
    }, () => {
      if (gen === this.generation) this.flushing = false;
    });
  }

  /** Everything up to k has reached NATS: forget it. */
  private ack(k: Key): void {
    if (compareEvents(k, this.acked) <= 0) return;
    this.acked = { index: k.index, sub: k.sub };
    let n = 0;
    while (n < this.pending.length && compareEvents(this.pending[n], k) <= 0) n++;
    this.pending.splice(0, n);
    this.sent = Math.max(0, this.sent - n);
    if (this.opts.ackedStore !== undefined && this.saveTimer === undefined && !this.closed) {
      this.saveTimer = setTimeout(() => this.saveAcked(), ackedSaveMs);
      this.saveTimer.unref();
    }
  }

  /** Starts after the position saved for this cluster by an earlier run, if any. */
  private restoreAcked(): void {
    const cid = this.opts.clusterId();
    if (cid === undefined) return;
    this.restored = true;
    let k: Key | undefined;
    try {
      k = this.opts.ackedStore?.load(cid);
    } catch (err) {
      this.log(`events: cannot read the last position confirmed by NATS (${String(err)}); publishing from the start of the log`, 'warn');
    }
    if (k === undefined || compareEvents(k, this.acked) <= 0) return;
    this.acked = { index: k.index, sub: k.sub };
    this.sentOnConn = this.acked;
    this.log(`events: NATS has the events up to ${k.index}.${k.sub} already; publishing from there`);
  }

  private saveAcked(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const cid = this.opts.clusterId();
    if (cid === undefined || this.acked.index === 0) return;
    try {
      this.opts.ackedStore?.save(cid, this.acked);
    } catch (err) {
      this.log(`events: cannot save the last position confirmed by NATS (${String(err)})`, 'warn');
    }
  }

  /** Followers learn from the subject what the leader has published, so a takeover resends only the rest. */
  private watchSubject(nc: NatsConnection, cid: string): void {
    this.sub = nc.subscribe(`shoal.${cid}.>`, {
      callback: (err, msg) => {
        if (err !== null || this.opts.log.isLeader()) return;
        const k = parseEventId(msg.headers?.get(MSG_ID) ?? '');
        if (k !== undefined) this.ack(k);
      },
    });
  }
}
