/**
 * startCriRuntime: what the agent calls for `--runtime cri` (or `auto` with containerd installed). With an endpoint,
 * it connects; without, it starts skiff's own containerd (ManagedContainerd). Then, as k3s does at start: the air-gap
 * archives in `<data-dir>/agent/images/` are imported and the sandbox image is made available (pulled, or built
 * locally). `importImageCommand` is `skiff images import FILE`.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createLogger } from '../../../log/logger.js';
import { airGapImageDir, importImageArchive, importImageDirectory } from '../../images/image-import.js';
import { DEFAULT_PAUSE_IMAGE, ensureSandboxImage, type SandboxImageSource } from '../../images/sandbox-image.js';
import { CriClient } from './cri-client.js';
import { CriRuntime } from './cri-runtime.js';
import { cniConfDirOf, findBinary } from './host-requirements.js';
import { ManagedContainerd } from './managed-containerd.js';
import { authForImage, DEFAULT_REGISTRIES_FILE, loadRegistries, type RegistriesConfig } from './registries.js';

const log = createLogger('cri-runtime');

export interface StartCriRuntimeOptions {
  dataDir: string;
  /** --container-runtime-endpoint; absent = skiff's own containerd. */
  endpoint?: string;
  /** --pause-image */
  pauseImage?: string;
  /** --private-registry (default /etc/skiff/registries.yaml, optional there). */
  privateRegistryFile?: string;
  /** Where the agent writes its CNI conflist; default `<data-dir>/agent/etc/cni/net.d` (k3s's path). */
  cniConfDir?: string;
  cniBinDir?: string;
}

export interface StartedCriRuntime {
  runtime: CriRuntime;
  /** Present when skiff runs containerd itself. */
  containerd?: ManagedContainerd;
  registries?: RegistriesConfig;
  sandboxImage: { image: string; source: SandboxImageSource };
  /** Closes the runtime and stops skiff's containerd (containers keep running in their shims). */
  stop(): Promise<void>;
}

/**
 * RuntimeClass handlers skiff's containerd gets besides `runc`, as k3s finds alternative runtimes on the host
 * (pkg/agent/containerd/runtimes.go): runc-compatible binaries on PATH, registered under their own names.
 */
export function hostRuntimeHandlers(find: (name: string) => string | undefined = findBinary): Record<string, string> {
  const handlers: Record<string, string> = {};
  for (const name of ['crun']) {
    const binary = find(name);
    if (binary) handlers[name] = binary;
  }
  return handlers;
}

export async function startCriRuntime(options: StartCriRuntimeOptions): Promise<StartedCriRuntime> {
  const registries = await loadRegistries(options.privateRegistryFile ?? DEFAULT_REGISTRIES_FILE);
  const pauseImage = options.pauseImage ?? DEFAULT_PAUSE_IMAGE;
  let containerd: ManagedContainerd | undefined;
  let endpoint = options.endpoint;
  if (!endpoint) {
    containerd = new ManagedContainerd({
      dataDir: options.dataDir,
      sandboxImage: pauseImage,
      cniConfDir: options.cniConfDir ?? cniConfDirOf(options.dataDir),
      cniBinDir: options.cniBinDir,
      registries,
      extraRuntimes: hostRuntimeHandlers(),
    });
    await containerd.start();
    endpoint = containerd.endpoint;
  } else if (registries) {
    log.warn('--private-registry mirrors and TLS settings apply only to skiff\'s own containerd; with an endpoint only its credentials are used', { endpoint });
  }
  const runtime = new CriRuntime({ endpoint, authFor: registries ? (image) => authForImage(registries, image) : undefined });
  const stop = async () => {
    await runtime.close();
    await containerd?.stop();
  };
  try {
    const version = await runtime.version();
    log.info('container runtime', { endpoint, runtime: `${version.runtimeName}://${version.runtimeVersion}`, managed: containerd !== undefined });
    const address = endpoint;
    await importImageDirectory(airGapImageDir(options.dataDir), { address });
    const source = await ensureSandboxImage(runtime, pauseImage, { address });
    return { runtime, containerd, registries, sandboxImage: { image: pauseImage, source }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The socket skiff's own containerd listens on for this data dir. */
export function managedContainerdSocket(dataDir: string): string {
  return join(dataDir, 'agent', 'run', 'containerd', 'containerd.sock');
}

/**
 * `skiff images import FILE`: into the running containerd (the given endpoint, or skiff's own for the data dir) at
 * once; when none answers, the archive is copied into the air-gap directory and imported at the next agent start.
 */
export async function importImageCommand(file: string, options: { dataDir: string; endpoint?: string }): Promise<{ images: string[]; deferredTo?: string }> {
  const address = options.endpoint ?? `unix://${managedContainerdSocket(options.dataDir)}`;
  const client = new CriClient(address, { timeoutMs: 2000 });
  let reachable = true;
  try {
    await client.call('Version', { version: 'v1' });
  } catch {
    reachable = false;
  } finally {
    client.close();
  }
  if (reachable) return { images: await importImageArchive(file, { address }) };
  const dir = airGapImageDir(options.dataDir);
  await mkdir(dir, { recursive: true });
  const target = join(dir, basename(file));
  await copyFile(file, target);
  return { images: [], deferredTo: target };
}
