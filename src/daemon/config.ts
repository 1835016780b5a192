/** shoald's settings, from flags and an optional config file (flags win). */
export interface DaemonConfig {
  /** --data-root: raft/, certificates/, worker/, images/, containers/ (default /var/lib/shoal). */
  readonly dataRoot: string;
  /** --host: the local API's unix socket path (flag form unix:///run/shoal/shoal.sock). */
  readonly socketPath: string;
  /** Where the pid file and per-container runtime state live (default /run/shoal). */
  readonly runRoot: string;
  /** --listen-addr: host:port of the cluster gRPC server (default 0.0.0.0:2377). */
  readonly listenAddr: string;
  /** --advertise-addr: host[:port] other nodes reach this one at ('' = derived at init/join). */
  readonly advertiseAddr: string;
  /** --metrics-addr: host:port of the Prometheus endpoint ('' = off). */
  readonly metricsAddr: string;
  /** --log-level. */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** --events-nats: nats://host:port ('' = off). */
  readonly eventsNats: string;
  /** --events-nats-buffer: events kept for NATS while it is unreachable (unset = the publisher's default, 10000). */
  readonly eventsNatsBuffer?: number;
  /** --label k=v (repeatable): this node's engine labels, reported in its description. */
  readonly labels: Readonly<Record<string, string>>;
  /** --bridge: the node bridge's interface name (unset = the daemon's default, shoal0). */
  readonly bridgeName?: string;
  /** --bridge-subnet: the bridge's IPv4 subnet (unset = the daemon's default, 10.88.0.0/16). */
  readonly bridgeSubnet?: string;
  /** --cgroup-parent: parent cgroup of every container (unset = the daemon's default, shoal). */
  readonly cgroupParent?: string;
}
