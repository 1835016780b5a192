import * as os from 'node:os';
import { InvalidArgumentError } from '../types/errors';

/** A parsed host:port. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses host:port (IPv6 in brackets); the field name goes into the error. */
export function parseHostPort(field: string, s: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(s);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) throw new InvalidArgumentError(`${field} must be host:port, got ${JSON.stringify(s)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** host:port as a string, bracketing IPv6 hosts. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::' || h === '';

/** The first non-internal IPv4 address of this host (Docker picks the default route's; this is close), else loopback. */
export function hostAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * The host:port other nodes reach this one at: the advertise address if given (its port
 * defaulting to the bound one), else the listen host unless it is a wildcard, else the host's address.
 */
export function advertiseAddress(advertise: string, listen: HostPort, boundPort: number): string {
  if (advertise !== '') {
    // Docker also takes an interface name (--advertise-addr eth0[:port]): its first IPv4 address.
    const [name, port] = advertise.split(':');
    const iface = os.networkInterfaces()[name]?.find((a) => a.family === 'IPv4');
    if (iface !== undefined) return formatHostPort(iface.address, port === undefined || port === '' || port === '0' ? boundPort : Number(port));
    if (/^[^\s:[\]]+$/.test(advertise)) return formatHostPort(advertise, boundPort);
    const hp = parseHostPort('--advertise-addr', advertise);
    return formatHostPort(hp.host, hp.port === 0 ? boundPort : hp.port);
  }
  return formatHostPort(wildcard(listen.host) ? hostAddress() : listen.host, boundPort);
}

/** Where this node's own processes dial its cluster server. */
export function localDialAddress(listen: HostPort, boundPort: number): string {
  return formatHostPort(wildcard(listen.host) ? '127.0.0.1' : listen.host, boundPort);
}

/** The host part of host:port. */
export function hostOf(addr: string): string {
  try {
    return parseHostPort('address', addr).host;
  } catch {
    return addr;
  }
}
