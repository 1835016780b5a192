import {
  Client,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientWritableStream,
  type ServerReadableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { systemRandom, type Random } from '../../types/random';
import type { Message, NodeId } from '../core/types';
import type { Transport, TransportHandlers } from '../node/transport';
import { decodeBatch, decodeChunk, encodeBatch, encodeChunk, entrySizeOnWire } from '../wire/codec';
import { raftServiceDefinition } from './raft-service';

/** Settings of the gRPC transport; sizes in bytes, durations in milliseconds. */
export interface GrpcTransportOptions {
  readonly selfId: NodeId;
  /** mTLS credentials presenting this manager's certificate (src/pki). */
  readonly credentials: ChannelCredentials;
  readonly channelOptions?: ChannelOptions;
  readonly random?: Random;
  /** Bytes of messages in one batch on the stream; well under gRPC's 4 MiB message limit. */
  readonly batchBytesMax?: number;
  /** Bytes queued for one peer before messages are dropped (Raft resends what is lost). */
  readonly queueBytesMax?: number;
  readonly snapshotChunkBytes?: number;
  readonly reconnectDelayMsMin?: number;
  readonly reconnectDelayMsMax?: number;
  /** Largest snapshot accepted from a peer. */
  readonly snapshotBytesMax?: number;
}

const defaults = {
  batchBytesMax: 2 * 1024 * 1024,
  queueBytesMax: 64 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 2000,
  snapshotBytesMax: 1024 * 1024 * 1024,
};

/** Approximate bytes of a message on the wire, for batching and queue bounds. */
function messageBytes(m: Message): number {
  let n = 64 + m.context.length;
  for (const e of m.entries) n += entrySizeOnWire(e);
  return n;
}

/** One peer: a long-lived client stream carrying batches, reopened with backoff when it breaks. */
class Peer {
  private readonly client: Client;
  private call: ClientWritableStream<Uint8Array> | null = null;
  private queue: Message[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** The stream's buffer is full: hold batches in `queue` (bounded) until it drains. */
  private blocked = false;
  private retryAt = 0;
  private failures = 0;
  private openedAt = 0;
  private closed = false;

  constructor(readonly id: NodeId, address: string, private readonly t: GrpcTransport) {
    this.client = new Client(address, t.opts.credentials, {
      ...t.opts.channelOptions,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
    });
  }

  enqueue(m: Message): void {
    if (this.closed) return;
    if (m.type === 'snap') {
      this.sendSnapshot(m);
      return;
    }
    const size = messageBytes(m);
    if (this.queuedBytes + size > this.t.o.queueBytesMax) {
      this.t.handlers?.onUnreachable(this.id);
      return;
    }
    this.queue.push(m);
    this.queuedBytes += size;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.blocked || this.queue.length === 0) return;
    const call = this.openCall();
    if (call === null) return;
    while (this.queue.length > 0) {
      let bytes = 0;
      let k = 0;
      while (k < this.queue.length && (k === 0 || bytes + messageBytes(this.queue[k]) <= this.t.o.batchBytesMax)) {
        bytes += messageBytes(this.queue[k]);
        k++;
      }
      const batch = this.queue.splice(0, k);
      this.queuedBytes -= bytes;
      if (!call.write(encodeBatch(batch))) {
        // Back-pressure: keep the rest queued until the stream drains.
        this.blocked = true;
        call.once('drain', () => {
          this.blocked = false;
          this.scheduleFlush();
        });
        return;
      }
    }
  }

  private openCall(): ClientWritableStream<Uint8Array> | null {
    if (this.call !== null) return this.call;
    const now = Date.now();
    if (now < this.retryAt) {
      setTimeout(() => this.scheduleFlush(), this.retryAt - now).unref();
      return null;
    }
    const call = this.client.makeClientStreamRequest<Uint8Array, Uint8Array>(
      raftServiceDefinition.Stream.path,
      raftServiceDefinition.Stream.requestSerialize as (b: Uint8Array) => Buffer,
      raftServiceDefinition.Stream.responseDeserialize as (b: Buffer) => Uint8Array,
      (err) => {
        if (this.call === call) this.broken(err !== null);
      },
    );
    call.on('error', () => undefined); // reported through the callback above
    this.call = call;
    this.openedAt = Date.now();
    return call;
  }

  private broken(failed: boolean): void {
    this.call = null;
    this.blocked = false;
    if (this.closed) return;
    if (failed) {
      // A stream that lived a while was a working connection: start the backoff over.
      if (Date.now() - this.openedAt > this.t.o.reconnectDelayMsMax) this.failures = 0;
      this.failures++;
      const max = Math.min(this.t.o.reconnectDelayMsMax, this.t.o.reconnectDelayMsMin * 2 ** Math.min(this.failures, 10));
      this.retryAt = Date.now() + max / 2 + this.t.random.float() * (max / 2);
      this.t.handlers?.onUnreachable(this.id);
    }
    // Messages written to the broken stream are lost; Raft retransmits.
    if (this.queue.length > 0) this.scheduleFlush();
  }

  private sendSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === null) return;
    const call = this.client.makeClientStreamRequest<Uint8Array, Uint8Array>(
      raftServiceDefinition.InstallSnapshot.path,
      raftServiceDefinition.InstallSnapshot.requestSerialize as (b: Uint8Array) => Buffer,
      raftServiceDefinition.InstallSnapshot.responseDeserialize as (b: Buffer) => Uint8Array,
      (err) => this.t.handlers?.onSnapshotSent(this.id, err === null),
    );
    call.on('error', () => undefined);
    const size = this.t.o.snapshotChunkBytes;
    const total = snap.data.length;
    let offset = 0;
    const writeNext = (): void => {
      while (offset < total || offset === 0) {
        const data = snap.data.subarray(offset, Math.min(total, offset + size));
        const chunk = { header: offset === 0 ? m : null, data, offset, totalBytes: total, last: offset + data.length >= total };
        offset += Math.max(data.length, 1);
        const ok = call.write(encodeChunk(chunk));
        if (chunk.last) {
          call.end();
          return;
        }
        if (!ok) {
          call.once('drain', writeNext);
          return;
        }
      }
    };
    writeNext();
  }

  close(): void {
    this.closed = true;
    this.call?.end();
    this.call = null;
    this.client.close();
  }
}

/**
 * Raft messages over gRPC with mutual TLS: one long-lived stream per peer carrying batches,
 * snapshots streamed in chunks on their own call. Add `service` to the manager's gRPC server.
 */
export class GrpcTransport implements Transport {
  readonly o: typeof defaults;
  readonly random: Random;
  handlers: TransportHandlers | null = null;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly addresses = new Map<NodeId, string>();

  constructor(readonly opts: GrpcTransportOptions) {
    this.o = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    this.random = opts.random ?? systemRandom;
  }

  /** The server side: add with `server.addService(raftServiceDefinition, transport.service)`. */
  readonly service: UntypedServiceImplementation = {
    Stream: (call: ServerReadableStream<Uint8Array, Uint8Array>, done: sendUnaryData<Uint8Array>) => {
      call.on('data', (b: Uint8Array) => {
        let ms: Message[];
        try {
          ms = decodeBatch(b);
        } catch {
          call.destroy(new Error('undecodable raft message batch'));
          return;
        }
        for (const m of ms) if (m.to === this.opts.selfId) this.handlers?.onMessage(m);
      });
      call.on('end', () => done(null, new Uint8Array(0)));
      call.on('error', () => undefined);
    },
    InstallSnapshot: (call: ServerReadableStream<Uint8Array, Uint8Array>, done: sendUnaryData<Uint8Array>) => {
      this.receiveSnapshot(call, done);
    },
  };

  private receiveSnapshot(call: ServerReadableStream<Uint8Array, Uint8Array>, done: sendUnaryData<Uint8Array>): void {
    let header: Message | null = null;
    let buf: Buffer | null = null;
    let received = 0;
    let finished = false;
    const fail = (why: string): void => {
      if (finished) return;
      finished = true;
      done({ code: 3, details: why }, null);
    };
    call.on('data', (b: Uint8Array) => {
      if (finished) return;
      let c: ReturnType<typeof decodeChunk>;
      try {
        c = decodeChunk(b);
      } catch {
        return fail('undecodable snapshot chunk');
      }
      if (header === null) {
        if (c.header === null || c.header.snapshot === null || c.offset !== 0) return fail('snapshot stream must start with its header');
        if (c.totalBytes > this.o.snapshotBytesMax) return fail(`snapshot of ${c.totalBytes} bytes is over the limit of ${this.o.snapshotBytesMax}`);
        header = c.header;
        buf = Buffer.allocUnsafe(c.totalBytes);
      }
      if (buf === null || c.offset !== received || received + c.data.length > buf.length) return fail(`snapshot chunk at offset ${c.offset} out of order`);
      buf.set(c.data, received);
      received += c.data.length;
      if (!c.last) return;
      if (received !== buf.length) return fail(`snapshot ended at ${received} of ${buf.length} bytes`);
      finished = true;
      const h = header;
      const snap = h.snapshot;
      if (snap !== null && h.to === this.opts.selfId) this.handlers?.onMessage({ ...h, snapshot: { ...snap, data: buf } });
      done(null, new Uint8Array(0));
    });
    call.on('end', () => fail('snapshot stream ended before its last chunk'));
    call.on('error', () => undefined);
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) this.peers.get(m.to)?.enqueue(m);
  }

  setPeer(id: NodeId, address: string): void {
    if (id === this.opts.selfId || this.addresses.get(id) === address) return;
    this.peers.get(id)?.close();
    this.addresses.set(id, address);
    this.peers.set(id, new Peer(id, address, this));
  }

  removePeer(id: NodeId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
    this.addresses.delete(id);
  }

  close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    this.handlers = null;
    return Promise.resolve();
  }
}
