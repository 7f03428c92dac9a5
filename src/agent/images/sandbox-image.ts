/**
 * ensureSandboxImage: every CRI sandbox runs the configured pause image, and on an offline machine it cannot be
 * pulled. Then the agent builds one locally, under the same name so containerd's `sandbox_image` finds it: a busybox
 * layer whose entrypoint sleeps until SIGTERM (the pause container only holds the pod's namespaces), imported into
 * containerd, and says so in its log.
 */
import { createLogger } from '../../log/logger.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { buildBusyboxImage, findStaticBusybox } from './busybox-rootfs.js';
import { importImageArchive, type ImportOptions } from './image-import.js';
import type { BuiltImage } from './oci-archive.js';

const log = createLogger('images');

/** The default --pause-image (kubelet 1.30's). */
export const DEFAULT_PAUSE_IMAGE = 'registry.k8s.io/pause:3.9';

/** PID 1 of the sandbox: exits 0 on TERM/INT, otherwise sleeps forever. */
export const PAUSE_ENTRYPOINT = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

/** An OCI archive of a pause image named `reference`, built from the host's static busybox. */
export async function buildPauseImage(reference: string, busybox = findStaticBusybox()): Promise<BuiltImage> {
  return buildBusyboxImage(reference, { Entrypoint: PAUSE_ENTRYPOINT, Cmd: [], Labels: { 'dev.skiff.image': 'pause' } }, [], busybox);
}

export type SandboxImageSource = 'present' | 'pulled' | 'built';

/** Makes `image` available to the runtime: already there, pulled, or built locally and imported. */
export async function ensureSandboxImage(runtime: ContainerRuntime, image: string, importOptions: ImportOptions): Promise<SandboxImageSource> {
  if (await runtime.imageStatus({ image })) return 'present';
  let pullError: string;
  try {
    await runtime.pullImage({ image });
    log.info('pulled the sandbox image', { image });
    return 'pulled';
  } catch (err) {
    pullError = (err as Error).message;
  }
  const started = performance.now();
  const built = await buildPauseImage(image);
  await importImageArchive(built.archive, importOptions);
  log.warn('the sandbox (pause) image could not be pulled; using one built locally from busybox', {
    image,
    pullError,
    digest: built.manifestDigest,
    ms: Math.round(performance.now() - started),
  });
  return 'built';
}
