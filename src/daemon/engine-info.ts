import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineInfo } from '../api/backend';
import { detectCgroupLayout } from '../runtime/cgroups';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { ImageStore } from '../runtime/image';

function packageVersion(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, up, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** shoal's version, from package.json. */
export const shoalVersion = packageVersion();

/** What `docker version` and `docker info` report about this host and its runtime. */
export async function engineInfo(dataRoot: string, runtime: ContainerRuntime, images: ImageStore, hostname: string): Promise<EngineInfo> {
  const containers = runtime.list();
  const running = containers.filter((c) => c.status === 'running').length;
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch() === 'arm64' ? 'aarch64' : os.arch();
  let cgroupVersion: '1' | '2' = '2';
  try {
    cgroupVersion = detectCgroupLayout().version === 1 ? '1' : '2';
  } catch { /* no cgroups: the runtime would not have opened */ }
  return {
    version: shoalVersion,
    hostname,
    os: os.platform(),
    kernelVersion: os.release(),
    architecture: arch,
    ncpu: os.availableParallelism(),
    memTotal: os.totalmem(),
    dataRoot,
    containersRunning: running,
    containersStopped: containers.length - running,
    images: (await images.list()).length,
    cgroupVersion,
  };
}
