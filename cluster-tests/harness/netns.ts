import * as fs from 'node:fs';
import { mustSync, trySync } from './exec';

/**
 * The test network of one run: a "switch" network namespace holding a Linux bridge, and one
 * network namespace per host joined to it by a veth pair. Nothing is created in the root
 * namespace, so the run cannot disturb the machine's own interfaces or routes, and deleting the
 * namespaces removes every link, bridge, address and iptables rule the run made.
 *
 * Names carry the run number k: namespaces `shltst<k>-sw` and `shltst<k>-h<i>`, bridge
 * `shltst<k>-br`, subnet 10.213.<k>.0/24, host i at 10.213.<k>.<10+i>.
 */
export class TestNetwork {
  readonly prefix: string;
  readonly switchNs: string;
  readonly bridge: string;
  private readonly hosts = new Set<string>();

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1 || k > 250) throw new Error(`run number must be 1..250, got ${k}`);
    this.prefix = `shltst${k}`;
    this.switchNs = `${this.prefix}-sw`;
    this.bridge = `${this.prefix}-br`;
  }

  /** The /24 every host address is in. */
  get subnet(): string {
    return `10.213.${this.k}.0/24`;
  }

  /** Host i's address (i from 1). */
  addressOf(i: number): string {
    return `10.213.${this.k}.${10 + i}`;
  }

  /** Host i's namespace name. */
  nsOf(i: number): string {
    return `${this.prefix}-h${i}`;
  }

  /** Creates the switch namespace and its bridge (synchronous: a few `ip` calls). */
  createSwitch(): void {
    mustSync('ip', ['netns', 'add', this.switchNs]);
    mustSync('ip', ['-n', this.switchNs, '-batch', '-'], [
      'link set lo up',
      `link add ${this.bridge} type bridge`,
      `link set ${this.bridge} up`,
    ].join('\n') + '\n');
  }

  /**
   * Creates host i's namespace: loopback up, eth0 with its address, the peer `h<i>` enslaved to
   * the bridge in the switch namespace.
   */
  addHost(i: number): { ns: string; ip: string } {
    const ns = this.nsOf(i);
    const ip = this.addressOf(i);
    mustSync('ip', ['netns', 'add', ns]);
    this.hosts.add(ns);
    mustSync('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `h${i}`, 'netns', this.switchNs]);
    mustSync('ip', ['-n', this.switchNs, '-batch', '-'], `link set h${i} master ${this.bridge}\nlink set h${i} up\n`);
    mustSync('ip', ['-n', ns, '-batch', '-'], `link set lo up\naddr add ${ip}/24 dev eth0\nlink set eth0 up\n`);
    return { ns, ip };
  }

  /** Every namespace of this run that still exists (by name). */
  existing(): string[] {
    return listNetns().filter((n) => n.startsWith(`${this.prefix}-`));
  }

  /** Deletes every namespace of this run (their links, bridge and rules go with them). */
  destroy(): void {
    for (const ns of this.existing()) trySync('ip', ['netns', 'del', ns]);
  }
}

/** Names of the named network namespaces (`ip netns list`). */
export function listNetns(): string[] {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** The inode of a named namespace's net ns file, to recognise the processes inside it. */
export function netnsInode(ns: string): number | undefined {
  try {
    return fs.statSync(`/run/netns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

/** Pids of the processes whose network namespace is one of `inodes`. */
export function pidsInNetns(inodes: ReadonlySet<number>): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (inodes.has(fs.statSync(`/proc/${p}/ns/net`).ino)) pids.push(Number(p));
    } catch { /* gone, or a kernel thread */ }
  }
  return pids;
}
