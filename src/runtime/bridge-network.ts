import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { ConflictError, InvalidArgumentError, UnavailableError } from '../types/errors';
import { PortMapping } from './container-config';
import { NetworkAttachment } from './container-state';
import { ContainerNetwork } from './network-types';
import { runCommand } from './run-command';

/** A node bridge: its interface name (shoal0 by default) and the IPv4 subnet containers draw from. */
export interface BridgeOptions {
  name: string;
  /** e.g. 10.88.0.0/16; the first host address is the bridge's (the gateway). */
  subnet: string;
  /** Turn on net.ipv4.ip_forward so that MASQUERADE can carry containers' outbound traffic (Docker does). */
  enableForwarding?: boolean;
}

/** A parsed IPv4 subnet. */
export interface Subnet {
  network: number;
  prefix: number;
}

const ifnameRe = /^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/;

/** Parses a.b.c.d/p (p in 16..29) and checks that the address is the network's. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : 0;
  if (!m || octets.some((o) => o > 255) || prefix < 16 || prefix > 29) throw new InvalidArgumentError(`subnet must be an IPv4 CIDR with a prefix of 16 to 29, got ${JSON.stringify(cidr)}`);
  const network = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  if ((network & mask) >>> 0 !== network) throw new InvalidArgumentError(`subnet ${cidr} has host bits set`);
  return { network, prefix };
}

/** Dotted form of a 32-bit address. */
export function ipString(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
}

/**
 * The per-node bridge driver: a Linux bridge with an address pool, one veth per container
 * (its peer becomes the container's eth0), a default route via the bridge, MASQUERADE for
 * outbound traffic and DNAT for host-mode published ports (also from the host's loopback,
 * through route_localnet, so no userland proxy process is needed and ports keep working
 * while the daemon is down). Every rule carries a `shoal:<container id>` comment so that
 * what belongs to dead containers can be found and removed after a crash.
 */
export class BridgeNetwork implements ContainerNetwork {
  readonly name: string;
  readonly subnet: Subnet;
  readonly chain: string;
  private readonly ips = new Map<number, string>();
  private readonly ports = new Map<string, string>();
  private readonly releasing = new Map<string, Promise<void>>();
  private cursor = 0;
  private forwardingWas: string | undefined;

  constructor(private readonly opts: BridgeOptions) {
    if (!ifnameRe.test(opts.name)) throw new InvalidArgumentError(`bridge name must be 1-15 letters, digits, _ or -, got ${JSON.stringify(opts.name)}`);
    this.name = opts.name;
    this.subnet = parseSubnet(opts.subnet);
    this.chain = `SHOAL-${opts.name}`;
  }

  get gateway(): string {
    return ipString(this.subnet.network + 1);
  }

  private get size(): number {
    return 2 ** (32 - this.subnet.prefix);
  }

  /** Creates the bridge and its base rules if missing (idempotent, off the start path). */
  async setup(): Promise<void> {
    if (!fs.existsSync(`/sys/class/net/${this.name}`)) {
      await runCommand('ip', ['-batch', '-'], `link add ${this.name} type bridge\naddr add ${this.gateway}/${this.subnet.prefix} dev ${this.name}\nlink set ${this.name} up\n`);
    }
    // Lets DNAT send packets from 127.0.0.1 to a container on this bridge.
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${this.name}/route_localnet`, '1');
    if (this.opts.enableForwarding !== false) {
      const f = '/proc/sys/net/ipv4/ip_forward';
      const was = fs.readFileSync(f, 'utf8').trim();
      if (was !== '1') { this.forwardingWas = was; fs.writeFileSync(f, '1'); }
    }
    await runCommand('iptables', ['-w', '-t', 'nat', '-N', this.chain]).catch(() => { /* exists */ });
    for (const rule of this.baseRules()) {
      const [table, ...spec] = rule;
      const exists = await runCommand('iptables', ['-w', '-t', table, '-C', ...spec]).then(() => true, () => false);
      if (!exists) await runCommand('iptables', ['-w', '-t', table, '-A', ...spec]);
    }
  }

  private baseRules(): string[][] {
    const cidr = `${ipString(this.subnet.network)}/${this.subnet.prefix}`;
    const tag = ['-m', 'comment', '--comment', `shoal-bridge:${this.name}`];
    return [
      ['nat', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', ...tag, '-j', this.chain],
      ['nat', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', ...tag, '-j', this.chain],
      ['nat', 'POSTROUTING', '-s', cidr, '!', '-o', this.name, ...tag, '-j', 'MASQUERADE'],
      ['nat', 'POSTROUTING', '-o', this.name, '-m', 'addrtype', '--src-type', 'LOCAL', ...tag, '-j', 'MASQUERADE'],
      ['filter', 'FORWARD', '-i', this.name, ...tag, '-j', 'ACCEPT'],
      ['filter', 'FORWARD', '-o', this.name, ...tag, '-j', 'ACCEPT'],
    ];
  }

  /** Removes the bridge, its rules and chain (tests; a node normally keeps its bridge). */
  async destroy(): Promise<void> {
    for (const [table, ...spec] of this.baseRules()) {
      await runCommand('iptables', ['-w', '-t', table, '-D', ...spec]).catch(() => { /* absent */ });
    }
    await runCommand('iptables', ['-w', '-t', 'nat', '-F', this.chain]).catch(() => { /* absent */ });
    await runCommand('iptables', ['-w', '-t', 'nat', '-X', this.chain]).catch(() => { /* absent */ });
    if (fs.existsSync(`/sys/class/net/${this.name}`)) await runCommand('ip', ['link', 'del', this.name]);
    if (this.forwardingWas !== undefined) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', this.forwardingWas);
  }

  async reserve(id: string, ports: PortMapping[]): Promise<NetworkAttachment> {
    for (const p of ports) {
      const key = `${p.hostPort}/${p.protocol}`;
      // A port whose owner has exited is free as soon as its teardown is done: wait for that.
      const prev = this.ports.get(key);
      if (prev !== undefined) await this.releasing.get(prev);
      const owner = this.ports.get(key);
      if (owner !== undefined) throw new ConflictError(`host port ${key} is already published by container ${owner}`, { hint: 'pick another host port' });
    }
    // A host process holding the port would shadow our DNAT only partly: refuse it as Docker does.
    for (const p of ports) await assertPortFree(p);
    const ip = this.allocateIp(id);
    for (const p of ports) this.ports.set(`${p.hostPort}/${p.protocol}`, id);
    return { mode: 'bridge', ip: ipString(ip), hostVeth: vethName(id), ports };
  }

  private allocateIp(id: string): number {
    // Round-robin over the pool, so a just-released address is not handed out at once
    // (stale ARP entries in other containers would misroute to the new owner).
    const hosts = this.size - 3;
    for (let i = 0; i < hosts; i++) {
      const off = 2 + ((this.cursor + i) % hosts);
      const ip = this.subnet.network + off;
      if (!this.ips.has(ip)) {
        this.ips.set(ip, id);
        this.cursor = (this.cursor + i + 1) % hosts;
        return ip;
      }
    }
    throw new UnavailableError(`no free address left in ${ipString(this.subnet.network)}/${this.subnet.prefix} on bridge ${this.name}`);
  }

  async attach(id: string, pid: number, a: NetworkAttachment): Promise<void> {
    const veth = a.hostVeth!;
    await runCommand('ip', ['-batch', '-'], `link add ${veth} type veth peer name eth0 netns ${pid}\nlink set ${veth} master ${this.name} up\n`);
    const inside = runCommand('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'],
      `addr add ${a.ip}/${this.subnet.prefix} dev eth0\nlink set eth0 up\nroute add default via ${this.gateway}\n`);
    const rules = a.ports.length === 0 ? Promise.resolve('') : runCommand('iptables-restore', ['-w', '--noflush'], `*nat\n${this.portRules(id, a, '-A').join('\n')}\nCOMMIT\n`);
    await Promise.all([inside, rules]);
  }

  private portRules(id: string, a: NetworkAttachment, op: '-A' | '-D'): string[] {
    return a.ports.map((p) => `${op} ${this.chain} -p ${p.protocol} -m ${p.protocol} --dport ${p.hostPort} -m comment --comment shoal:${id} -j DNAT --to-destination ${a.ip}:${p.containerPort}`);
  }

  release(id: string, a: NetworkAttachment): Promise<void> {
    let p = this.releasing.get(id);
    if (!p) {
      p = this.doRelease(id, a).finally(() => this.releasing.delete(id));
      this.releasing.set(id, p);
    }
    return p;
  }

  private async doRelease(id: string, a: NetworkAttachment): Promise<void> {
    if (a.hostVeth && fs.existsSync(`/sys/class/net/${a.hostVeth}`)) {
      // Usually gone with the container's netns already; the kernel may be a step behind.
      await runCommand('ip', ['link', 'del', a.hostVeth]).catch(() => { /* vanished meanwhile */ });
    }
    for (const rule of this.portRules(id, a, '-D')) {
      await runCommand('iptables', ['-w', '-t', 'nat', ...splitRule(rule)]).catch(() => { /* absent */ });
    }
    for (const p of a.ports) if (this.ports.get(`${p.hostPort}/${p.protocol}`) === id) this.ports.delete(`${p.hostPort}/${p.protocol}`);
    for (const [ip, owner] of this.ips) if (owner === id) this.ips.delete(ip);
  }

  async recover(live: Map<string, NetworkAttachment>): Promise<void> {
    for (const [id, a] of live) {
      if (a.mode !== 'bridge' || !a.ip) continue;
      const [o1, o2, o3, o4] = a.ip.split('.').map(Number);
      this.ips.set(((o1 << 24) | (o2 << 16) | (o3 << 8) | o4) >>> 0, id);
      for (const p of a.ports) this.ports.set(`${p.hostPort}/${p.protocol}`, id);
    }
    const rules = await runCommand('iptables', ['-w', '-t', 'nat', '-S', this.chain]).catch(() => '');
    for (const line of rules.split('\n')) {
      const m = /--comment "?shoal:([0-9a-f]+)"?/.exec(line);
      if (!m || live.has(m[1]) || !line.startsWith('-A ')) continue;
      await runCommand('iptables', ['-w', '-t', 'nat', ...splitRule(`-D ${line.slice(3)}`.replace(/"/g, ''))]).catch(() => { /* raced */ });
    }
    const links = await runCommand('ip', ['-o', 'link', 'show', 'master', this.name]).catch(() => '');
    const liveVeths = new Set([...live.values()].map((a) => a.hostVeth));
    for (const line of links.split('\n')) {
      const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
      if (name && name.startsWith('vs') && !liveVeths.has(name)) await runCommand('ip', ['link', 'del', name]).catch(() => { /* gone */ });
    }
  }
}

/** The host end of a container's veth: "vs" and the id's first 11 hex digits (IFNAMSIZ is 16). */
export function vethName(id: string): string {
  return `vs${id.slice(0, 11)}`;
}

function splitRule(rule: string): string[] {
  return rule.split(' ').filter((s) => s !== '');
}

function assertPortFree(p: PortMapping): Promise<void> {
  const taken = (err: Error): ConflictError => new ConflictError(`host port ${p.hostPort}/${p.protocol} is already in use on this host: ${err.message}`, { hint: 'pick another host port' });
  return new Promise((resolve, reject) => {
    if (p.protocol === 'tcp') {
      const s = net.createServer();
      s.once('error', (e) => reject(taken(e)));
      s.listen({ port: p.hostPort, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve()));
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', (e) => { s.close(); reject(taken(e)); });
      s.bind({ port: p.hostPort, address: '0.0.0.0', exclusive: true }, () => s.close(() => resolve()));
    }
  });
}
