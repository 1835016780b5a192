import * as os from 'node:os';
import type { NodeDescription } from '../types/objects';

/** What this host offers, reported at session start: hostname, platform, CPUs and memory. */
export function describeHost(hostname: string = os.hostname()): NodeDescription {
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch() === 'arm64' ? 'aarch64' : os.arch();
  return {
    hostname,
    platform: { os: os.platform(), architecture: arch },
    resources: { nanoCPUs: os.availableParallelism() * 1e9, memoryBytes: os.totalmem() },
  };
}
