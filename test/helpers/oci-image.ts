/**
 * Test images built on this machine (no registry is reachable): a busybox image with /bin/sh and the usual applets,
 * as an OCI archive that `ctr images import`, skopeo and the CRI runtime read. The builder lives in
 * src/agent/images (the agent builds its fallback pause image the same way).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBusyboxImage, findStaticBusybox } from '../../src/agent/images/busybox-rootfs.js';
import type { BuiltImage, ImageRunConfig, TarEntry } from '../../src/agent/images/oci-archive.js';

export const TEST_BUSYBOX_IMAGE = 'docker.io/skiff-test/busybox:local';

/** Why busybox-based images cannot be built here, or undefined when they can. */
export function busyboxMissing(): string | undefined {
  return findStaticBusybox() ? undefined : 'no statically linked busybox (apt-get install busybox-static)';
}

/** A busybox image (default command /bin/sh); `extra` adds a layer of files on top. */
export function buildTestImage(reference = TEST_BUSYBOX_IMAGE, config: ImageRunConfig = {}, extra: TarEntry[] = []): Promise<BuiltImage> {
  return buildBusyboxImage(reference, config, extra);
}

/** Builds the image and writes its OCI archive into `dir`; returns the file path. */
export async function writeTestImageArchive(dir: string, reference = TEST_BUSYBOX_IMAGE, config: ImageRunConfig = {}, extra: TarEntry[] = []): Promise<string> {
  const built = await buildTestImage(reference, config, extra);
  const file = join(dir, `${reference.replace(/[^\w.-]+/g, '_')}.tar`);
  await writeFile(file, built.archive);
  return file;
}
