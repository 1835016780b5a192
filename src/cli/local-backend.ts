import * as fs from 'node:fs';
import * as path from 'node:path';
import { RuntimeBackend } from '../api/runtime-backend';
import { BridgeNetwork } from '../runtime/bridge-network';
import { ContainerRuntime } from '../runtime/container-runtime';
import { ImageStore } from '../runtime/image';
import { InvalidArgumentError } from '../types/errors';
import { DataRootLock } from './data-root-lock';

export { mergeImageConfig } from '../api/runtime-backend';

/** Where and how the in-process backend runs containers (from the CLI's global flags). */
export interface LocalBackendOptions {
  dataRoot: string;
  bridgeName: string;
  bridgeSubnet: string;
  cgroupParent: string;
  ipForward: boolean;
}

/**
 * The CLI's backend until shoald serves the local API: the runtime and the image store in
 * this process (src/api/runtime-backend.ts). A lock on the data root serializes CLI processes,
 * except while one waits on a container.
 */
export class LocalBackend extends RuntimeBackend {
  static async open(opts: LocalBackendOptions): Promise<LocalBackend> {
    if (!path.isAbsolute(opts.dataRoot)) throw new InvalidArgumentError(`invalid --data-root ${JSON.stringify(opts.dataRoot)}: must be an absolute path`);
    fs.mkdirSync(opts.dataRoot, { recursive: true, mode: 0o711 });
    const lock = new DataRootLock(opts.dataRoot);
    await lock.acquire();
    try {
      // Opening either half cleans up after crashes, so it happens under the lock.
      const images = await ImageStore.open(path.join(opts.dataRoot, 'images'));
      const bridge = new BridgeNetwork({ name: opts.bridgeName, subnet: opts.bridgeSubnet, enableForwarding: opts.ipForward });
      const rt = await ContainerRuntime.open({ root: opts.dataRoot, cgroupParent: opts.cgroupParent, network: bridge });
      return new LocalBackend(rt, images, bridge, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }
}
