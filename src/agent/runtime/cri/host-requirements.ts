/**
 * What skiff's own containerd needs on this host, and where its CNI config goes: the checks the agent makes before it
 * picks a runtime. Kept apart from the CRI client so that an agent on the process runtime decides without loading
 * @grpc/grpc-js and protobufjs (start-cri-runtime.ts is imported only once `cri` is chosen).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of `name` on PATH, if it is there and executable. */
export function findBinary(name: string, path = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why skiff cannot run its own containerd here (for `--runtime auto` to explain its choice), or undefined. */
export function managedContainerdMissing(): string | undefined {
  if (!findBinary('containerd')) return 'containerd is not installed';
  if (process.getuid?.() !== 0) return 'skiff runs its own containerd only as root (rootless containerd is not supported)';
  if (!findBinary('runc')) return 'runc is not installed';
  if (!findBinary('ctr')) return 'ctr (shipped with containerd) is not installed';
  return undefined;
}

/** k3s's path for the agent's CNI conflist: `<data-dir>/agent/etc/cni/net.d`. */
export function cniConfDirOf(dataDir: string): string {
  return join(dataDir, 'agent', 'etc', 'cni', 'net.d');
}
