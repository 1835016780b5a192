import type { Message, NodeId } from '../core/types';

/** Delivers Raft messages between nodes. Sending never blocks and may lose messages (Raft copes). */
export interface Transport {
  /** Starts delivering received messages to `onMessage`; `onSnapshotSent` reports a streamed snapshot's outcome. */
  start(handlers: TransportHandlers): void;
  /** Queues messages for their peers; batches per peer. */
  send(messages: readonly Message[]): void;
  /** Sets the address of a peer (added or changed). */
  setPeer(id: NodeId, address: string): void;
  /** Forgets a peer and closes its connection. */
  removePeer(id: NodeId): void;
  close(): Promise<void>;
}

/** What a transport tells its node. */
export interface TransportHandlers {
  onMessage(m: Message): void;
  /** A peer could not be reached: the leader probes it again instead of pipelining. */
  onUnreachable(id: NodeId): void;
  onSnapshotSent(id: NodeId, ok: boolean): void;
}
