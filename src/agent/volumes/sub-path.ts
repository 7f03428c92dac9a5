/**
 * Resolves a volumeMount's subPath inside a volume, refusing every way out of it, as kubelet does before it
 * bind-mounts a subPath (kubelet_pods.go makeMounts + pkg/volume/util/subpath doSafeMakeDir/PrepareSafeSubpath):
 * absolute paths and `..` elements are refused outright; each existing element is resolved, and one that is a
 * symlink must stay inside the volume; missing elements are created (mode of the volume's root), one at a time,
 * so a symlink swapped in meanwhile is seen at the next element.
 *
 * Returns the real path to mount. Like upstream, a subPath of a configMap or secret volume resolves through
 * `..data` to the current timestamped file, so such mounts do not follow later updates.
 *
 * Not done: upstream opens each element with O_NOFOLLOW and mounts /proc/self/fd/N to close the remaining race
 * between this check and the runtime's mount; a runtime that mounts the returned path has that window.
 */
import { lstat, mkdir, realpath, stat, chmod } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';

export class SubPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubPathError';
  }
}

function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

export async function resolveSubPath(volumePath: string, subPath: string, opts: { create?: boolean } = {}): Promise<string> {
  if (isAbsolute(subPath)) throw new SubPathError(`error SubPath ${JSON.stringify(subPath)} must not be an absolute path`);
  const parts = subPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new SubPathError(`unable to provision SubPath ${JSON.stringify(subPath)}: must not contain '..'`);
  const root = await realpath(volumePath);
  const rootMode = (await stat(root)).mode & 0o7777;
  let cur = root;
  for (const part of parts) {
    const next = join(cur, part);
    let st;
    try {
      st = await lstat(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!st) {
      if (opts.create === false) throw new SubPathError(`subPath ${JSON.stringify(subPath)} does not exist in volume path ${JSON.stringify(volumePath)}`);
      try {
        await mkdir(next, { mode: rootMode });
        await chmod(next, rootMode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SubPathError(`failed to mkdir ${JSON.stringify(next)}: ${(err as Error).message}`);
      }
      st = await lstat(next);
    }
    // Resolve whatever is there now (a symlink may have appeared) and check it stays inside.
    const real = st.isSymbolicLink() ? await realpathOrDangling(next) : next;
    if (real === undefined || !within(root, real)) throw new SubPathError(`subpath ${JSON.stringify(next)} not within volume path ${JSON.stringify(root)}`);
    cur = real;
  }
  const final = await realpath(cur);
  if (!within(root, final)) throw new SubPathError(`subpath ${JSON.stringify(final)} not within volume path ${JSON.stringify(root)}`);
  return final;
}

async function realpathOrDangling(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
