/**
 * hostPath type checks, as kubelet's pkg/volume/hostpath (checkTypeInternal): the `*OrCreate` types create what is
 * missing (a directory 0755 with its parents, an empty file 0644 whose parent must exist), the others only check.
 * Messages are upstream's, e.g. `hostPath type check failed: /data is not a directory`.
 */
import { lstat, mkdir, open, stat, chmod } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    // Follow symlinks, as os.Stat does in upstream's checker.
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Checks (and for the *OrCreate types prepares) `path`; resolves to the reason it fails, or undefined when it passes.
 * `dirMode` is the mode of a directory DirectoryOrCreate makes (upstream 0755; the local-path volumes use 0777 as
 * k3s's local-path-provisioner does, so non-root containers can write).
 */
export async function checkHostPathType(path: string, type: string | undefined, dirMode = 0o755): Promise<string | undefined> {
  const t = type ?? '';
  let st = await statOrUndefined(path);
  if (t === 'DirectoryOrCreate' && !st) {
    await mkdir(path, { recursive: true, mode: dirMode });
    await chmod(path, dirMode); // mkdir's mode is filtered by the umask
    st = await statOrUndefined(path);
  }
  if (t === 'FileOrCreate' && !st) {
    try {
      const fh = await open(path, 'a', 0o644);
      await fh.close();
    } catch (err) {
      return `hostPath type check failed: ${(err as Error).message}`;
    }
    st = await statOrUndefined(path);
  }
  switch (t) {
    case '':
      return undefined;
    case 'DirectoryOrCreate':
    case 'Directory':
      return st?.isDirectory() ? undefined : `hostPath type check failed: ${path} is not a directory`;
    case 'FileOrCreate':
    case 'File':
      return st?.isFile() ? undefined : `hostPath type check failed: ${path} is not a file`;
    case 'Socket':
      return st?.isSocket() ? undefined : `hostPath type check failed: ${path} is not a socket file`;
    case 'CharDevice':
      return st?.isCharacterDevice() ? undefined : `hostPath type check failed: ${path} is not a character device`;
    case 'BlockDevice':
      return st?.isBlockDevice() ? undefined : `hostPath type check failed: ${path} is not a block device`;
    default:
      return `${t} is an invalid volume type`;
  }
}

/** True when `path` exists without following a final symlink (for callers that must not be fooled by one). */
export async function existsNoFollow(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
