import type { ConfChange, ConfState, Entry, Message, NodeId, PersistedState, RaftConfig, Ready, Role, Snapshot } from './types';

/** A snapshot of a node's state for tests, metrics and the simulator's checks. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leader: NodeId;
  readonly role: Role;
  readonly confState: ConfState;
}

/** The Raft core (skeleton: see the implementation commit). */
export class RawNode {
  constructor(readonly config: RaftConfig, _persisted: PersistedState) {}
  static bootstrap(_voters: readonly NodeId[]): PersistedState { throw new Error('todo'); }
  static empty(): PersistedState { throw new Error('todo'); }
  tick(): void { throw new Error('todo'); }
  step(_m: Message): void { throw new Error('todo'); }
  campaign(): void { throw new Error('todo'); }
  propose(_data: Uint8Array): { index: number; term: number } { throw new Error('todo'); }
  proposeConfChange(_cc: ConfChange): { index: number; term: number } { throw new Error('todo'); }
  readIndex(_context: string): void { throw new Error('todo'); }
  transferLeadership(_to: NodeId): void { throw new Error('todo'); }
  hasReady(): boolean { throw new Error('todo'); }
  ready(): Ready { throw new Error('todo'); }
  advance(): void { throw new Error('todo'); }
  createSnapshot(_data: Uint8Array): Snapshot { throw new Error('todo'); }
  compact(_index: number): void { throw new Error('todo'); }
  reportUnreachable(_id: NodeId): void { throw new Error('todo'); }
  reportSnapshot(_id: NodeId, _ok: boolean): void { throw new Error('todo'); }
  status(): RaftStatus { throw new Error('todo'); }
  /** The in-memory log after the snapshot (persisted and not yet persisted entries), for checks. */
  log(): readonly Entry[] { throw new Error('todo'); }
  /** The latest snapshot this node has (created, received or restarted from), if any. */
  snapshot(): Snapshot | null { throw new Error('todo'); }
}
