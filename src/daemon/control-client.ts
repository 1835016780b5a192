import * as grpc from '@grpc/grpc-js';
import type { ControlOps, NodeListFilter, ServiceListFilter, TaskListFilter } from '../api/backend';
import { callControl } from '../manager/controlapi/control-server';
import { ControlClientCtor, type ControlMethod } from '../manager/controlapi/control-proto';
import type { NodeIdentity } from '../pki/node-identity';
import { clusterChannelOptions, managerChannelCredentials } from '../pki/tls-credentials';
import type { Cluster, ClusterSpec, Node, NodeSpec, Service, ServiceSpec, SpecInput, Task } from '../types/objects';
import { typedErrorOf } from './typed-errors';

/** How long one control call may take (a write waits for a Raft commit, perhaps through a forward). */
const controlDeadlineMs = 20_000;

/**
 * ControlOps over gRPC to this node's own manager, with this node's certificate: the local
 * manager answers when it leads and forwards to the leader otherwise (control-server.ts).
 * Errors come back as the ShoalError subclasses the leader raised.
 */
export class GrpcControlOps implements ControlOps {
  private readonly client: grpc.Client;

  constructor(address: string, identity: NodeIdentity) {
    this.client = new ControlClientCtor(address, managerChannelCredentials(identity), clusterChannelOptions);
  }

  close(): void {
    this.client.close();
  }

  private async call(method: ControlMethod, req: Record<string, unknown>): Promise<unknown> {
    try {
      return await callControl(this.client, method, req, new grpc.Metadata(), controlDeadlineMs);
    } catch (err) {
      throw typedErrorOf(err, `control ${method}`);
    }
  }

  private async one<T>(method: ControlMethod, req: Record<string, unknown>): Promise<T> {
    const r = (await this.call(method, req)) as { json?: string };
    return JSON.parse(r.json ?? 'null') as T;
  }

  private async many<T>(method: ControlMethod, req: Record<string, unknown>): Promise<T[]> {
    const r = (await this.call(method, req)) as { json?: string[] };
    return (r.json ?? []).map((j) => JSON.parse(j) as T);
  }

  createService(spec: SpecInput<ServiceSpec>): Promise<Service> {
    return this.one('CreateService', { specJson: JSON.stringify(spec) });
  }

  getService(idOrName: string): Promise<Service> {
    return this.one('GetService', { id: idOrName });
  }

  listServices(f: ServiceListFilter): Promise<Service[]> {
    return this.many('ListServices', { names: f.names, idPrefixes: f.idPrefixes, labels: f.labels });
  }

  updateService(idOrName: string, version: number, spec: SpecInput<ServiceSpec> | null, rollback: boolean): Promise<Service> {
    return this.one('UpdateService', { id: idOrName, version, specJson: spec === null ? '' : JSON.stringify(spec), rollback });
  }

  async removeService(idOrName: string): Promise<void> {
    await this.call('RemoveService', { id: idOrName });
  }

  getTask(id: string): Promise<Task> {
    return this.one('GetTask', { id });
  }

  listTasks(f: TaskListFilter): Promise<Task[]> {
    return this.many('ListTasks', { serviceIds: f.serviceIds, nodeIds: f.nodeIds, desiredStates: f.desiredStates });
  }

  getNode(idOrName: string): Promise<Node> {
    return this.one('GetNode', { id: idOrName });
  }

  listNodes(f: NodeListFilter): Promise<Node[]> {
    return this.many('ListNodes', { roles: f.roles, names: f.names });
  }

  updateNode(idOrName: string, version: number, spec: Partial<NodeSpec>): Promise<Node> {
    return this.one('UpdateNode', {
      id: idOrName, version, availability: spec.availability ?? '', role: spec.role ?? '',
      labelsJson: spec.labels === undefined ? '' : JSON.stringify(spec.labels),
    });
  }

  async removeNode(idOrName: string, force: boolean): Promise<void> {
    await this.call('RemoveNode', { id: idOrName, force });
  }

  getCluster(): Promise<Cluster> {
    return this.one('GetCluster', {});
  }

  updateCluster(version: number, spec: ClusterSpec | null, rotate: { worker: boolean; manager: boolean }): Promise<Cluster> {
    return this.one('UpdateCluster', {
      version, specJson: spec === null ? '' : JSON.stringify(spec), rotateWorkerToken: rotate.worker, rotateManagerToken: rotate.manager,
    });
  }
}
