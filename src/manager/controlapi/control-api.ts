import type { Clock } from '../../types/clock';
import { ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../types/errors';
import { validateClusterSpec, type Cluster, type ClusterSpec, type Node, type NodeSpec, type Service, type ServiceSpec, type SpecInput, type Task } from '../../types/objects';
import type { Random } from '../../types/random';
import type { RaftMembership } from '../replicated-log';
import type { Store } from '../store/store';
import { updateNode } from './nodes';
import { createService, removeService, updateService } from './services';

/** Filters of a service listing; empty lists match everything. */
export interface ServiceFilter { names: string[]; idPrefixes: string[]; labels: string[] }
/** Filters of a task listing. */
export interface TaskFilter { serviceIds: string[]; nodeIds: string[]; desiredStates: number[] }
/** Filters of a node listing. */
export interface NodeFilter { roles: string[]; names: string[] }

function parseJson(field: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${field} is not valid JSON: ${(err as Error).message}`);
  }
}

function matchLabels(labels: Readonly<Record<string, string>>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? Object.hasOwn(labels, w) : labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

/** Optional parts of the control API. */
export interface ControlApiOptions {
  /** Changes the Raft group when a manager is removed or demoted (the daemon passes the RaftNode's). */
  readonly raftMembership?: RaftMembership;
}

/**
 * The control API's operations on the leader's store, transport-free: the gRPC service calls
 * these on the leader. Every input is checked here before anything is written.
 */
export class ControlApi {
  constructor(readonly store: Store, private readonly clock: Clock, private readonly random: Random, private readonly newJoinToken: (role: 'worker' | 'manager') => string, private readonly opts: ControlApiOptions = {}) {}

  createService(specJson: string): Promise<Service> {
    return createService(this.store, this.random, parseJson('spec_json', specJson) as SpecInput<ServiceSpec>);
  }

  getService(idOrName: string): Service {
    const s = this.store.view.get('service', idOrName) ?? this.store.view.serviceNamed(idOrName);
    if (s === undefined) throw new NotFoundError(`service ${idOrName} not found`);
    return s;
  }

  listServices(f: ServiceFilter): Service[] {
    return this.store.view.list('service').filter((s) =>
      (f.names.length === 0 || f.names.includes(s.spec.name)) &&
      (f.idPrefixes.length === 0 || f.idPrefixes.some((p) => s.id.startsWith(p))) && matchLabels(s.spec.labels, f.labels));
  }

  updateService(id: string, version: number, specJson: string, rollback: boolean): Promise<Service> {
    const s = this.getService(id);
    const spec = rollback ? null : (parseJson('spec_json', specJson) as SpecInput<ServiceSpec>);
    return updateService(this.store, this.clock, s.id, version, spec, { rollback });
  }

  removeService(id: string): Promise<void> {
    return removeService(this.store, this.getService(id).id);
  }

  getTask(id: string): Task {
    const t = this.store.view.get('task', id);
    if (t === undefined) throw new NotFoundError(`task ${id} not found`);
    return t;
  }

  listTasks(f: TaskFilter): Task[] {
    const base = f.serviceIds.length > 0 ? f.serviceIds.flatMap((id) => this.store.view.tasksOfService(id))
      : f.nodeIds.length > 0 ? f.nodeIds.flatMap((id) => this.store.view.tasksOfNode(id)) : this.store.view.list('task');
    return base.filter((t) => (f.nodeIds.length === 0 || f.nodeIds.includes(t.nodeId)) &&
      (f.desiredStates.length === 0 || f.desiredStates.includes(t.desiredState)));
  }

  getNode(idOrName: string): Node {
    const n = this.store.view.get('node', idOrName) ?? this.store.view.nodes().find((x) => x.spec.name === idOrName || x.description.hostname === idOrName);
    if (n === undefined) throw new NotFoundError(`node ${idOrName} not found`);
    return n;
  }

  listNodes(f: NodeFilter): Node[] {
    return this.store.view.nodes().filter((n) => (f.roles.length === 0 || f.roles.includes(n.spec.role)) && (f.names.length === 0 || f.names.includes(n.spec.name)));
  }

  async updateNode(id: string, version: number, patch: { availability: string; role: string; labelsJson: string }): Promise<Node> {
    const p: { -readonly [K in keyof NodeSpec]?: NodeSpec[K] } = {};
    if (patch.availability !== '') p.availability = patch.availability as NodeSpec['availability'];
    if (patch.role !== '') p.role = patch.role as NodeSpec['role'];
    if (patch.labelsJson !== '') p.labels = parseJson('labels_json', patch.labelsJson) as NodeSpec['labels'];
    const n = this.getNode(id);
    if (p.role === 'worker' && n.spec.role === 'manager') {
      this.checkQuorumWithout(n, 'demote');
      // Checked before the Raft group changes, so a stale request changes nothing at all.
      if (version !== n.meta.version) throw new ConflictError(`update of node ${n.id} refused: it was read at version ${version} but is now at version ${n.meta.version}`, { hint: 'read the object again and retry' });
      await this.leaveRaft(n, 'demote');
      // The caller's version was checked above; the leader's own status writes since then must not
      // undo a demotion that has already left the Raft group.
      return updateNode(this.store, n.id, this.store.view.get('node', n.id)?.meta.version ?? version, p);
    }
    return updateNode(this.store, n.id, version, p);
  }

  async removeNode(id: string, force: boolean): Promise<void> {
    const n = this.getNode(id);
    if (n.spec.role === 'manager') {
      this.checkQuorumWithout(n, 'remove');
      if (!force) throw new FailedPreconditionError(`node ${n.id} is a manager`, { hint: 'demote it before removing it' });
    }
    if (!force && n.status.state !== 'down') throw new FailedPreconditionError(`node ${n.id} is not down and can't be removed`, { hint: 'drain it and stop its daemon, or use force' });
    if (n.spec.role === 'manager') await this.leaveRaft(n, 'remove');
    await this.store.write([{ op: 'remove', kind: 'node', id: n.id, expectedVersion: 0 }]);
  }

  /**
   * Takes a manager out of the Raft group (SwarmKit does this before the store change). The leader
   * does not remove itself: it hands leadership over and asks for a retry, which the new leader serves.
   */
  private async leaveRaft(n: Node, what: 'demote' | 'remove'): Promise<void> {
    const hook = this.opts.raftMembership;
    const raftId = n.managerStatus?.raftId ?? 0;
    if (hook === undefined || raftId === 0 || hook.isMember?.(raftId) === false) return;
    if (hook.selfRaftId?.() === raftId) {
      if (hook.transferLeadership === undefined) throw new FailedPreconditionError(`cannot ${what} node ${n.id}: it is the leader`, { hint: 'run the command again once another manager leads' });
      await hook.transferLeadership();
      throw new UnavailableError(`node ${n.id} was the leader; leadership has moved to another manager so that it can be ${what === 'remove' ? 'removed' : 'demoted'}`, { hint: 'retry the command' });
    }
    await hook.remove(raftId);
  }

  /** Refuses to take away a manager if the rest could not keep a quorum, and never the last one. */
  private checkQuorumWithout(n: Node, what: 'demote' | 'remove'): void {
    const managers = this.store.view.nodes().filter((m) => m.spec.role === 'manager');
    if (managers.length <= 1) throw new FailedPreconditionError(`cannot ${what} node ${n.id}: it is the last manager`, { hint: 'promote another node first' });
    // Only members of the Raft group make its quorum (all of them when the group cannot be asked).
    const isMember = this.opts.raftMembership?.isMember?.bind(this.opts.raftMembership);
    const inGroup = (m: Node): boolean => isMember === undefined || isMember(m.managerStatus?.raftId ?? 0);
    if (!inGroup(n)) return;
    const rest = managers.filter((m) => m.id !== n.id && inGroup(m));
    if (rest.length === 0) throw new FailedPreconditionError(`cannot ${what} node ${n.id}: it is the last manager in the Raft group`, { hint: 'promote another node first' });
    const reachable = rest.filter((m) => m.managerStatus?.reachability === 'reachable').length;
    const quorum = Math.floor(rest.length / 2) + 1;
    if (reachable < quorum) {
      throw new FailedPreconditionError(`cannot ${what} node ${n.id}: only ${reachable} of the other ${rest.length} managers are reachable, and ${quorum} are needed for a quorum`, { hint: 'bring the unreachable managers back first' });
    }
  }

  getCluster(): Cluster {
    const c = this.store.view.cluster();
    if (c === undefined) throw new FailedPreconditionError('the cluster is not initialized');
    return c;
  }

  async updateCluster(version: number, specJson: string, rotateWorker: boolean, rotateManager: boolean): Promise<Cluster> {
    const c = this.getCluster();
    const spec = specJson === '' ? c.spec : (parseJson('spec_json', specJson) as ClusterSpec);
    validateClusterSpec(spec);
    const joinTokens = { worker: rotateWorker ? this.newJoinToken('worker') : c.joinTokens.worker, manager: rotateManager ? this.newJoinToken('manager') : c.joinTokens.manager };
    await this.store.write([{ op: 'update', target: { kind: 'cluster', object: { ...c, meta: { ...c.meta, version }, spec, joinTokens } } }]);
    return this.getCluster();
  }
}
