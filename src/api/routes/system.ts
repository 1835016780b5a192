import type { ApiBackend, LocalSwarmState } from '../backend';
import { swarmInfoToDocker } from '../convert/swarm';
import type { JsonObject } from '../convert/check';
import { sendJson } from '../http/io';
import type { RequestContext, Route } from '../http/router';
import { API_VERSION, MIN_API_VERSION } from '../http/version';


/** Docker's `Swarm` header of /_ping: inactive, pending, error, locked, active/manager or active/worker. */
export function swarmHeader(st: LocalSwarmState): string {
  return st.state === 'active' ? `active/${st.controlAvailable ? 'manager' : 'worker'}` : st.state;
}

function ping(ctx: RequestContext): Promise<void> {
  const { res } = ctx;
  res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': 2,
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    Swarm: swarmHeader(ctx.backend.swarmState()),
  });
  res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  return Promise.resolve();
}

/** Go's architecture names, which `docker version` shows (`uname -m` says x86_64, aarch64). */
const GO_ARCH: Readonly<Record<string, string>> = { x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', i686: '386', x64: 'amd64' };

async function version(ctx: RequestContext): Promise<void> {
  const e = await ctx.backend.engine();
  const arch = GO_ARCH[e.architecture] ?? e.architecture;
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: e.os, Arch: arch, KernelVersion: e.kernelVersion, GitCommit: '', GoVersion: process.version, BuildTime: '' };
  sendJson(ctx.res, 200, {
    Platform: { Name: 'shoal' },
    Components: [{ Name: 'Engine', Version: e.version, Details: { ...details, Experimental: 'false' } }],
    Version: e.version,
    ...details,
  });
}

/** Info.Swarm, with the cluster part when this node is a manager that can answer. */
async function swarmSection(backend: ApiBackend): Promise<JsonObject> {
  const st = backend.swarmState();
  if (st.state !== 'active' || !st.controlAvailable) return swarmInfoToDocker(st);
  try {
    const ops = backend.control();
    const [cluster, nodes] = await Promise.all([ops.getCluster(), ops.listNodes({ roles: [], names: [] })]);
    return swarmInfoToDocker(st, { cluster, nodes: nodes.length, managers: nodes.filter((n) => n.spec.role === 'manager').length });
  } catch (err) {
    // No leader right now: Docker still answers /info and says so in Swarm.Error.
    return { ...swarmInfoToDocker(st), Error: (err as Error).message };
  }
}

async function info(ctx: RequestContext): Promise<void> {
  const e = await ctx.backend.engine();
  const swarm = await swarmSection(ctx.backend);
  sendJson(ctx.res, 200, {
    ID: typeof swarm.NodeID === 'string' && swarm.NodeID !== '' ? swarm.NodeID : e.hostname,
    Containers: e.containersRunning + e.containersStopped,
    ContainersRunning: e.containersRunning,
    ContainersPaused: 0,
    ContainersStopped: e.containersStopped,
    Images: e.images,
    Driver: 'overlay2',
    DriverStatus: [],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: false,
    KernelMemory: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: false,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: e.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: e.kernelVersion,
    OperatingSystem: e.os === 'linux' ? 'Linux' : e.os,
    OSVersion: '',
    OSType: 'linux',
    Architecture: e.architecture,
    IndexServerAddress: '',
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
    NCPU: e.ncpu,
    MemTotal: e.memTotal,
    GenericResources: null,
    DockerRootDir: e.dataRoot,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: e.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: e.version,
    Runtimes: { shoal: { path: 'shoal' } },
    DefaultRuntime: 'shoal',
    Swarm: swarm,
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: '', Expected: '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: [],
    Warnings: [],
  });
}

/** `/_ping`, `/version`, `/info`. */
export const systemRoutes: readonly Route[] = [
  { method: 'GET', path: /^\/_ping$/, handler: ping },
  { method: 'GET', path: /^\/version$/, handler: version },
  { method: 'GET', path: /^\/info$/, handler: info },
];
