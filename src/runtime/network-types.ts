import { PortMapping } from './container-config';
import { NetworkAttachment } from './container-state';

/** What the runtime needs from a container network (the bridge driver implements it). */
export interface ContainerNetwork {
  /** Reserves an address and the host ports synchronously; throws ConflictError on a clash. */
  reserve(id: string, ports: PortMapping[]): Promise<NetworkAttachment>;
  /** Plugs the reserved address into the container's network namespace (the pid's). */
  attach(id: string, pid: number, a: NetworkAttachment): Promise<void>;
  /** Undoes attach and releases the reservation; safe to call twice and after a restart. */
  release(id: string, a: NetworkAttachment): Promise<void>;
  /** After a restart: re-reserves what running containers hold and removes everything else. */
  recover(live: Map<string, NetworkAttachment>): Promise<void>;
}
