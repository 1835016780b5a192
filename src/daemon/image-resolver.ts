import type { ContainerConfig } from '../runtime/container-config';
import type { ImageStore } from '../runtime/image';
import type { ImageResolver } from '../worker/executor';

/** Labels through which a task's container remembers its image, as single containers do (src/api/runtime-backend.ts). */
const imageLabel = 'org.shoal.image';
const imageIdLabel = 'org.shoal.image.id';

/** The executor's images: this node's image store, the image's run config as container defaults. */
export function imageResolver(images: ImageStore): ImageResolver {
  return {
    async resolve(ref) {
      const img = await images.resolve(ref);
      const c = img.config;
      const config: Partial<ContainerConfig> = {
        // Docker runs Entrypoint + Cmd; the task's command or args then override as containerConfigOf says.
        cmd: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])],
        env: c.Env ?? [],
        labels: { ...(c.Labels ?? {}), [imageLabel]: ref, [imageIdLabel]: img.id },
      };
      if (c.WorkingDir) config.workingDir = c.WorkingDir;
      if (c.User) config.user = c.User;
      if (c.StopSignal) config.stopSignal = c.StopSignal;
      return { layerDirs: img.layerDirs, config, entrypoint: c.Entrypoint ?? [] };
    },
  };
}
