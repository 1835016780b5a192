import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import type { ConfState, Entry, HardState, Message, MessageType, Snapshot } from '../core/types';

/** proto/ relative to this file, in src/ and in dist/src/ alike. */
export function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..';
  return path.resolve(__dirname, up, 'proto');
}

const root = protobuf.loadSync(path.join(protoDir(), 'raft.proto'));
const T = {
  Entry: root.lookupType('shoal.raft.Entry'),
  HardState: root.lookupType('shoal.raft.HardState'),
  SnapshotMeta: root.lookupType('shoal.raft.SnapshotMeta'),
  Message: root.lookupType('shoal.raft.Message'),
  MessageBatch: root.lookupType('shoal.raft.MessageBatch'),
};

type Long = { toNumber(): number } | number;
const num = (v: Long | undefined | null): number => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : v.toNumber());
const nums = (vs: Long[] | undefined): number[] => (vs ?? []).map(num);

interface WireEntry { term?: Long; index?: Long; type?: number; data?: Uint8Array }
interface WireConfState { voters?: Long[]; learners?: Long[]; votersOutgoing?: Long[]; learnersNext?: Long[]; autoLeave?: boolean }
interface WireMeta { index?: Long; term?: Long; confState?: WireConfState }
interface WireMessage {
  type?: string; from?: Long; to?: Long; term?: Long; logTerm?: Long; index?: Long; entries?: WireEntry[];
  commit?: Long; reject?: boolean; rejectHint?: Long; rejectLogTerm?: Long; context?: string;
}

function entryToWire(e: Entry): WireEntry {
  return { term: e.term, index: e.index, type: e.type === 'confChange' ? 1 : 0, data: e.data };
}

function entryFromWire(w: WireEntry): Entry {
  return { term: num(w.term), index: num(w.index), type: w.type === 1 ? 'confChange' : 'normal', data: w.data ?? new Uint8Array(0) };
}

/** Encodes one log entry for storage. */
export function encodeEntry(e: Entry): Uint8Array {
  return T.Entry.encode(entryToWire(e)).finish();
}

/** Decodes one stored log entry. */
export function decodeEntry(b: Uint8Array): Entry {
  return entryFromWire(T.Entry.decode(b) as unknown as WireEntry);
}

/** Encodes the hard state for storage. */
export function encodeHardState(hs: HardState): Uint8Array {
  return T.HardState.encode(hs).finish();
}

/** Decodes the stored hard state. */
export function decodeHardState(b: Uint8Array): HardState {
  const w = T.HardState.decode(b) as unknown as { term?: Long; vote?: Long; commit?: Long };
  return { term: num(w.term), vote: num(w.vote), commit: num(w.commit) };
}

function confToWire(c: ConfState): WireConfState {
  return { voters: [...c.voters], learners: [...c.learners], votersOutgoing: [...c.votersOutgoing], learnersNext: [...c.learnersNext], autoLeave: c.autoLeave };
}

function confFromWire(w: WireConfState | undefined): ConfState {
  return { voters: nums(w?.voters), learners: nums(w?.learners), votersOutgoing: nums(w?.votersOutgoing), learnersNext: nums(w?.learnersNext), autoLeave: w?.autoLeave ?? false };
}

/** Encodes a snapshot's metadata (its data is stored apart). */
export function encodeSnapshotMeta(s: Omit<Snapshot, 'data'>): Uint8Array {
  return T.SnapshotMeta.encode({ index: s.index, term: s.term, confState: confToWire(s.confState) }).finish();
}

/** Decodes a snapshot's metadata. */
export function decodeSnapshotMeta(b: Uint8Array): Omit<Snapshot, 'data'> {
  const w = T.SnapshotMeta.decode(b) as unknown as WireMeta;
  return { index: num(w.index), term: num(w.term), confState: confFromWire(w.confState) };
}

/** A message in its wire form (without snapshot data, which is streamed apart). */
export function messageToWire(m: Message): WireMessage {
  return {
    type: m.type, from: m.from, to: m.to, term: m.term, logTerm: m.logTerm, index: m.index,
    entries: m.entries.map(entryToWire), commit: m.commit, reject: m.reject, rejectHint: m.rejectHint,
    rejectLogTerm: m.rejectLogTerm, context: m.context,
  };
}

/** A message from its wire form; `snapshot` is attached by the caller when one was streamed. */
export function messageFromWire(w: WireMessage, snapshot: Snapshot | null = null): Message {
  return {
    type: (w.type ?? '') as MessageType, from: num(w.from), to: num(w.to), term: num(w.term), logTerm: num(w.logTerm),
    index: num(w.index), entries: (w.entries ?? []).map(entryFromWire), commit: num(w.commit), reject: w.reject ?? false,
    rejectHint: num(w.rejectHint), rejectLogTerm: num(w.rejectLogTerm), snapshot, context: w.context ?? '',
  };
}

/** Encodes a batch of messages (for tests and size accounting). */
export function encodeBatch(ms: readonly Message[]): Uint8Array {
  return T.MessageBatch.encode({ messages: ms.map(messageToWire) }).finish();
}

/** Decodes a batch of messages. */
export function decodeBatch(b: Uint8Array): Message[] {
  const w = T.MessageBatch.decode(b) as unknown as { messages?: WireMessage[] };
  return (w.messages ?? []).map((m) => messageFromWire(m));
}

const SnapshotChunkT = root.lookupType('shoal.raft.SnapshotChunk');

/** One piece of a streamed snapshot. */
export interface SnapshotChunk {
  /** The 'snap' message with the snapshot's metadata (first chunk only). */
  readonly header: Message | null;
  readonly data: Uint8Array;
  readonly offset: number;
  readonly totalBytes: number;
  readonly last: boolean;
}

/** Encodes a snapshot chunk; the header's snapshot travels as metadata only. */
export function encodeChunk(c: SnapshotChunk): Uint8Array {
  const header = c.header === null ? undefined : {
    ...messageToWire(c.header),
    snapshot: c.header.snapshot === null ? undefined : {
      meta: { index: c.header.snapshot.index, term: c.header.snapshot.term, confState: confToWire(c.header.snapshot.confState) },
    },
  };
  return SnapshotChunkT.encode({ header, data: c.data, offset: c.offset, totalBytes: c.totalBytes, last: c.last }).finish();
}

/** Decodes a snapshot chunk; a header's snapshot comes back with empty data, to be filled by the receiver. */
export function decodeChunk(b: Uint8Array): SnapshotChunk {
  const w = SnapshotChunkT.decode(b) as unknown as {
    header?: WireMessage & { snapshot?: { meta?: WireMeta } }; data?: Uint8Array; offset?: Long; totalBytes?: Long; last?: boolean;
  };
  let header: Message | null = null;
  if (w.header !== undefined && w.header !== null) {
    const meta = w.header.snapshot?.meta;
    const snap = meta === undefined || meta === null ? null
      : { index: num(meta.index), term: num(meta.term), confState: confFromWire(meta.confState), data: new Uint8Array(0) };
    header = messageFromWire(w.header, snap);
  }
  return { header, data: w.data ?? new Uint8Array(0), offset: num(w.offset), totalBytes: num(w.totalBytes), last: w.last ?? false };
}

/** Approximate encoded size of an entry, for batching. */
export function entrySizeOnWire(e: Entry): number {
  return e.data.length + 16;
}
