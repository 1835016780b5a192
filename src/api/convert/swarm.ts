import type { LocalSwarmState } from '../backend';
import { DEFAULT_CLUSTER_SPEC, type Cluster, type ClusterSpec } from '../../types/objects';
import { InvalidArgumentError } from '../../types/errors';
import { optDurationMs, optInt, optObj, optStr, optStrMap, type JsonObject } from './check';
import { dockerVersion, isoTime, ns } from './time';

/** shoal's cluster settings as Docker's SwarmSpec (Raft settings are fixed in shoal and reported as Docker's defaults). */
export function clusterSpecToDocker(s: ClusterSpec): JsonObject {
  return {
    Name: s.name,
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: s.orchestration.taskHistoryRetentionLimit },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: ns(s.dispatcher.heartbeatPeriodMs) },
    CAConfig: { NodeCertExpiry: ns(s.caConfig.nodeCertExpiryMs) },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}

/** A Docker SwarmSpec over `base`: fields absent or zero keep base's value, as Docker's init does. */
export function clusterSpecFromDocker(body: unknown, base: ClusterSpec = DEFAULT_CLUSTER_SPEC, path = 'Spec'): ClusterSpec {
  const s = optObj(body, path) ?? {};
  optStrMap(s.Labels, `${path}.Labels`);
  const orch = optObj(s.Orchestration, `${path}.Orchestration`) ?? {};
  const disp = optObj(s.Dispatcher, `${path}.Dispatcher`) ?? {};
  const ca = optObj(s.CAConfig, `${path}.CAConfig`) ?? {};
  optObj(s.Raft, `${path}.Raft`);
  const enc = optObj(s.EncryptionConfig, `${path}.EncryptionConfig`) ?? {};
  if (enc.AutoLockManagers === true) throw new InvalidAutolock();
  const limit = optInt(orch.TaskHistoryRetentionLimit, `${path}.Orchestration.TaskHistoryRetentionLimit`);
  const hb = optDurationMs(disp.HeartbeatPeriod, `${path}.Dispatcher.HeartbeatPeriod`);
  const expiry = optDurationMs(ca.NodeCertExpiry, `${path}.CAConfig.NodeCertExpiry`);
  return {
    name: optStr(s.Name, `${path}.Name`) || base.name,
    orchestration: { taskHistoryRetentionLimit: limit ?? base.orchestration.taskHistoryRetentionLimit },
    dispatcher: { heartbeatPeriodMs: hb || base.dispatcher.heartbeatPeriodMs },
    caConfig: { nodeCertExpiryMs: expiry || base.caConfig.nodeCertExpiryMs },
  };
}


/** shoal keeps managers' keys unencrypted at rest; autolock is refused rather than silently ignored. */
class InvalidAutolock extends InvalidArgumentError {
  constructor() {
    super('Spec.EncryptionConfig.AutoLockManagers: autolock is not supported by shoal');
  }
}

/** Docker's ClusterInfo (the part of Swarm and of Info.Swarm.Cluster without join tokens). */
export function clusterInfoToDocker(c: Cluster): JsonObject {
  return {
    ID: c.id,
    Version: dockerVersion(c.meta.version),
    CreatedAt: isoTime(c.meta.createdAt),
    UpdatedAt: isoTime(c.meta.updatedAt),
    Spec: clusterSpecToDocker(c.spec),
    TLSInfo: {},
    RootRotationInProgress: false,
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    DataPathPort: 4789,
  };
}

/** Docker's Swarm object (`GET /swarm`). */
export function swarmToDocker(c: Cluster): JsonObject {
  return { ...clusterInfoToDocker(c), JoinTokens: { Worker: c.joinTokens.worker, Manager: c.joinTokens.manager } };
}

/** Docker's Info.Swarm for this node; the cluster part only on a manager. */
export function swarmInfoToDocker(st: LocalSwarmState, counts?: { nodes: number; managers: number; cluster: Cluster }): JsonObject {
  const out: JsonObject = {
    NodeID: st.nodeId,
    NodeAddr: st.nodeAddr,
    LocalNodeState: st.state,
    ControlAvailable: st.controlAvailable,
    Error: st.error,
    RemoteManagers: st.state === 'inactive' ? null : st.remoteManagers.map((m) => ({ NodeID: m.nodeId, Addr: m.addr })),
  };
  if (counts !== undefined) {
    out.Nodes = counts.nodes;
    out.Managers = counts.managers;
    out.Cluster = clusterInfoToDocker(counts.cluster);
  }
  return out;
}
