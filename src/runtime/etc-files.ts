import * as fs from 'node:fs';
import * as path from 'node:path';
import { MountSpec } from './container-config';

/** What goes into a container's /etc/hosts, /etc/hostname and /etc/resolv.conf. */
export interface EtcFilesInput {
  hostname: string;
  /** The container's address on the bridge, if it has one. */
  ip?: string;
  /** The host's resolv.conf text (read by the caller). */
  hostResolvConf: string;
  hostNetwork: boolean;
}

/**
 * Docker's container /etc files. Nameservers on the host's loopback cannot be reached from a
 * container's own network namespace, so they are dropped there (and kept with --network host).
 */
export function etcFiles(i: EtcFilesInput): { hosts: string; hostname: string; resolvConf: string } {
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...(i.ip ? [`${i.ip}\t${i.hostname}`] : [`127.0.1.1\t${i.hostname}`])].join('\n') + '\n';
  const resolvConf = i.hostNetwork
    ? i.hostResolvConf
    : i.hostResolvConf.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l)).join('\n');
  return { hosts, hostname: `${i.hostname}\n`, resolvConf };
}

/** Writes the files into dir and returns the bind mounts (read-write, as Docker's) that put them in place. */
export function writeEtcFiles(dir: string, i: EtcFilesInput): MountSpec[] {
  const f = etcFiles(i);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'hosts'), f.hosts);
  fs.writeFileSync(path.join(dir, 'hostname'), f.hostname);
  fs.writeFileSync(path.join(dir, 'resolv.conf'), f.resolvConf);
  return (['hosts', 'hostname', 'resolv.conf'] as const).map((n) => ({ type: 'bind', source: path.join(dir, n), target: `/etc/${n}` }));
}
