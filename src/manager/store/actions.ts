import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import type { Cluster, Node, ObjectKind, Service, Task } from '../../types/objects';

/** A stored object tagged with its kind. */
export type AnyObject =
  | { readonly kind: 'node'; readonly object: Node }
  | { readonly kind: 'service'; readonly object: Service }
  | { readonly kind: 'task'; readonly object: Task }
  | { readonly kind: 'cluster'; readonly object: Cluster };

/** The object type of each kind. */
export interface ObjectOfKind { node: Node; service: Service; task: Task; cluster: Cluster }

/** One change in a transaction. An update's object carries the version it was read at. */
export type StoreAction =
  | { readonly op: 'create'; readonly target: AnyObject }
  | { readonly op: 'update'; readonly target: AnyObject }
  | { readonly op: 'remove'; readonly kind: ObjectKind; readonly id: string; readonly expectedVersion: number }
  | { readonly op: 'patch'; readonly kind: ObjectKind; readonly id: string; readonly expectedVersion: number; readonly fields: Readonly<Record<string, unknown>> };

/** A patch of a task's top-level fields, read at the task's version. */
export function patchTask(t: Task, fields: Partial<Omit<Task, 'id' | 'meta'>>): StoreAction {
  return { op: 'patch', kind: 'task', id: t.id, expectedVersion: t.meta.version, fields };
}

/** What one Raft entry carries. */
export interface Transaction {
  readonly actions: readonly StoreAction[];
  readonly timestampMs: number;
}

/** proto/ relative to this file, in src/ and in dist/src/ alike. */
function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..';
  return path.resolve(__dirname, up, 'proto');
}

const root = protobuf.loadSync(path.join(protoDir(), 'store.proto'));
const TxType = root.lookupType('shoal.store.Transaction');
const SnapType = root.lookupType('shoal.store.Snapshot');
const OPS = ['create', 'update', 'remove', 'patch'] as const;
const KINDS: readonly ObjectKind[] = ['node', 'service', 'task', 'cluster'];
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

type Long = number | { toNumber(): number };
const num = (v: Long | undefined | null): number => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : v.toNumber());

interface WireObject { kind?: string; id?: string; json?: Uint8Array; specJson?: Uint8Array; specRef?: number }

/** Bound on the distinct task specs each cache keeps. */
const SPEC_CACHE_MAX = 4096;
/** Spec object -> its encoding, for the many tasks created from one service spec. */
const specText = new WeakMap<object, Uint8Array>();
/** Spec encoding -> the one parsed object shared by every task carrying it (never mutated). */
const specObjects = new Map<string, unknown>();

function encodeSpec(spec: Task['spec']): Uint8Array {
  let b = specText.get(spec);
  if (b === undefined) specText.set(spec, (b = utf8.encode(JSON.stringify(spec))));
  return b;
}

function decodeSpec(b: Uint8Array): unknown {
  const text = fromUtf8.decode(b);
  let spec = specObjects.get(text);
  if (spec === undefined) {
    if (specObjects.size >= SPEC_CACHE_MAX) specObjects.clear();
    specObjects.set(text, (spec = JSON.parse(text)));
  }
  return spec;
}
interface WireAction { op?: number; object?: WireObject; expectedVersion?: Long }

function objectToWire(o: AnyObject): WireObject {
  if (o.kind === 'task') {
    const { spec, ...rest } = o.object;
    return { kind: o.kind, id: o.object.id, json: utf8.encode(JSON.stringify(rest)), specJson: encodeSpec(spec) };
  }
  return { kind: o.kind, id: o.object.id, json: utf8.encode(JSON.stringify(o.object)) };
}

function objectFromWire(w: WireObject | undefined, specs: readonly unknown[]): AnyObject {
  const kind = w?.kind as ObjectKind;
  if (!KINDS.includes(kind)) throw new Error(`store entry has unknown object kind ${JSON.stringify(w?.kind)}`);
  const object = JSON.parse(fromUtf8.decode(w?.json ?? new Uint8Array())) as Record<string, unknown>;
  if (kind === 'task') {
    const ref = w?.specRef ?? 0;
    if (ref > 0) {
      if (ref > specs.length) throw new Error(`store entry has task ${String(object.id)} with spec reference ${ref} beyond its ${specs.length} specs`);
      object.spec = specs[ref - 1];
    } else if (w?.specJson !== undefined && w.specJson.length > 0) object.spec = decodeSpec(w.specJson);
    else throw new Error(`store entry has task ${String(object.id)} without a spec`);
  }
  return { kind, object } as unknown as AnyObject;
}

/**
 * The distinct task specs of one entry or snapshot: each task refers to its spec by index, so a
 * batch of new tasks of one service carries the spec once. Spec encodings are shared per spec
 * object (encodeSpec), so identity finds the duplicates.
 */
class SpecTable {
  readonly specs: Uint8Array[] = [];
  private readonly index = new Map<Uint8Array, number>();

  ref(o: WireObject): WireObject {
    const b = o.specJson;
    if (b === undefined || b.length === 0) return o;
    let i = this.index.get(b);
    if (i === undefined) {
      i = this.specs.length;
      this.specs.push(b);
      this.index.set(b, i);
    }
    return { kind: o.kind, id: o.id, json: o.json, specRef: i + 1 };
  }
}

/** Wire forms already built (splitting a write measures them, encoding reuses them). */
const wireCache = new WeakMap<StoreAction, WireAction>();

function actionToWire(a: StoreAction): WireAction {
  let w = wireCache.get(a);
  if (w === undefined) wireCache.set(a, (w = buildWire(a)));
  return w;
}

function buildWire(a: StoreAction): WireAction {
  if (a.op === 'remove') return { op: 2, object: { kind: a.kind, id: a.id }, expectedVersion: a.expectedVersion };
  if (a.op === 'patch') return { op: 3, object: { kind: a.kind, id: a.id, json: utf8.encode(JSON.stringify(a.fields)) }, expectedVersion: a.expectedVersion };
  return { op: a.op === 'create' ? 0 : 1, object: objectToWire(a.target), expectedVersion: a.op === 'update' ? a.target.object.meta.version : 0 };
}

function actionFromWire(w: WireAction, specs: readonly unknown[]): StoreAction {
  const op = OPS[w.op ?? 0];
  if (op === 'remove') {
    const kind = w.object?.kind as ObjectKind;
    if (!KINDS.includes(kind)) throw new Error(`store entry removes unknown object kind ${JSON.stringify(kind)}`);
    return { op, kind, id: w.object?.id ?? '', expectedVersion: num(w.expectedVersion) };
  }
  if (op === 'patch') {
    const kind = w.object?.kind as ObjectKind;
    if (!KINDS.includes(kind)) throw new Error(`store entry patches unknown object kind ${JSON.stringify(kind)}`);
    const fields: unknown = JSON.parse(fromUtf8.decode(w.object?.json ?? new Uint8Array()));
    if (typeof fields !== 'object' || fields === null || 'id' in fields || 'meta' in fields) throw new Error('store entry has a patch that is not an object of plain fields');
    return { op, kind, id: w.object?.id ?? '', expectedVersion: num(w.expectedVersion), fields: fields as Record<string, unknown> };
  }
  return { op, target: objectFromWire(w.object, specs) };
}

/** Encodes a transaction as one Raft entry's data. */
export function encodeTransaction(tx: Transaction): Uint8Array {
  const table = new SpecTable();
  const actions = tx.actions.map((a) => {
    const w = actionToWire(a);
    return w.object?.specJson === undefined ? w : { ...w, object: table.ref(w.object) };
  });
  return TxType.encode({ actions, timestampMs: tx.timestampMs, specs: table.specs }).finish();
}

/** Decodes a Raft entry's data into a transaction. */
export function decodeTransaction(data: Uint8Array): Transaction {
  const w = TxType.decode(data) as unknown as { actions?: WireAction[]; timestampMs?: Long; specs?: Uint8Array[] };
  const specs = (w.specs ?? []).map(decodeSpec);
  return { actions: (w.actions ?? []).map((a) => actionFromWire(a, specs)), timestampMs: num(w.timestampMs) };
}

/** Encoded size of one action in bytes (for splitting large writes). */
export function encodedActionBytes(a: StoreAction): number {
  const w = actionToWire(a);
  return (w.object?.json?.length ?? 0) + (w.object?.specJson?.length ?? 0) + (w.object?.id?.length ?? 0) + 24;
}

/** Encodes every object of the store and its version (a Raft snapshot's data). */
export function encodeSnapshot(objects: readonly AnyObject[], version: number): Uint8Array {
  const table = new SpecTable();
  return SnapType.encode({ objects: objects.map((o) => table.ref(objectToWire(o))), version, specs: table.specs }).finish();
}

/** Decodes a store snapshot. */
export function decodeSnapshot(data: Uint8Array): { objects: AnyObject[]; version: number } {
  const w = SnapType.decode(data) as unknown as { objects?: WireObject[]; version?: Long; specs?: Uint8Array[] };
  const specs = (w.specs ?? []).map(decodeSpec);
  return { objects: (w.objects ?? []).map((o) => objectFromWire(o, specs)), version: num(w.version) };
}
