import * as os from 'node:os';
import type { NodeDescription } from '../types/objects';

/** The host's own IP addresses (loopback and link-local left out), sorted so a change is a real one. */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'))) continue;
      out.push(a.address);
    }
  }
  return [...new Set(out)].sort();
}

/** What this host offers, reported at session start and on change: hostname, platform, CPUs, memory and addresses. */
export function describeHost(hostname: string = os.hostname()): NodeDescription {
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch() === 'arm64' ? 'aarch64' : os.arch();
  return {
    hostname,
    platform: { os: os.platform(), architecture: arch },
    resources: { nanoCPUs: os.availableParallelism() * 1e9, memoryBytes: os.totalmem() },
    addresses: hostAddresses(),
  };
}
