import type { Meta } from './common';

/** Cluster-wide settings the operator can change. */
export interface ClusterSpec {
  readonly name: string;
  readonly orchestration: { readonly taskHistoryRetentionLimit: number };
  readonly dispatcher: { readonly heartbeatPeriodMs: number };
  readonly caConfig: { readonly nodeCertExpiryMs: number };
}

/** The one cluster object: settings and join tokens. */
export interface Cluster {
  readonly id: string;
  readonly meta: Meta;
  readonly spec: ClusterSpec;
  readonly joinTokens: { readonly worker: string; readonly manager: string };
}

/** Docker's defaults: 5 tasks of history per slot, 5 s heartbeats, 90-day certificates. */
export const DEFAULT_CLUSTER_SPEC: ClusterSpec = {
  name: 'default',
  orchestration: { taskHistoryRetentionLimit: 5 },
  dispatcher: { heartbeatPeriodMs: 5000 },
  caConfig: { nodeCertExpiryMs: 90 * 24 * 3600 * 1000 },
};
