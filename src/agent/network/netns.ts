/**
 * Named network namespaces that outlive their processes, as `ip netns add` makes them, but in a skiff-owned run dir:
 * an empty file bind-mounted over with the namespace (`unshare --net=FILE`), so a pod sandbox has its network (and its
 * CNI setup) before its first process starts, and keeps it across container restarts. Needs root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEFAULT_NETNS_RUN_DIR = '/run/skiff/netns';

/** statfs(2) f_type of nsfs, the filesystem behind /proc/<pid>/ns/* and their bind mounts. */
const NSFS_MAGIC = 0x6e736673;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

export function netnsPath(name: string, runDir = DEFAULT_NETNS_RUN_DIR): string {
  checkName(name);
  return join(runDir, name);
}

/** A fresh name, `<prefix>-<24 hex>`, so agents and tests sharing a machine never collide. */
export function uniqueNetnsName(prefix = 'skiff'): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

/** Creates the namespace `<runDir>/<name>` and returns its path. Fails if the name is taken. */
export async function createNetns(name: string, runDir = DEFAULT_NETNS_RUN_DIR): Promise<string> {
  const path = netnsPath(name, runDir);
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  try {
    await (await open(path, 'wx', 0o444)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`network namespace ${path} already exists`);
    throw err;
  }
  try {
    await run('unshare', [`--net=${path}`, 'true'], { timeout: 10_000 });
  } catch (err) {
    await rm(path, { force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`creating network namespace ${path} failed: ${stderr || (err as Error).message}`);
  }
  return path;
}

/**
 * Unmounts and removes `<runDir>/<name>`. Idempotent: a missing file is success. The namespace itself lives on while
 * a process is still in it (the kernel frees it with the last user), as with `ip netns delete`.
 */
export async function deleteNetns(name: string, runDir = DEFAULT_NETNS_RUN_DIR): Promise<void> {
  const path = netnsPath(name, runDir);
  if (await isNetns(path)) {
    try {
      // Lazy, as `ip netns delete` does (MNT_DETACH): a process holding the file open does not block the delete.
      await run('umount', ['--lazy', path], { timeout: 10_000 });
    } catch (err) {
      if (await isNetns(path)) {
        const stderr = (err as { stderr?: string }).stderr?.trim();
        throw new Error(`deleting network namespace ${path} failed: ${stderr || (err as Error).message}`);
      }
    }
  }
  await rm(path, { force: true });
}

/** The names in runDir (for recovery after an agent restart), whether or not each is still mounted. */
export async function listNetns(runDir = DEFAULT_NETNS_RUN_DIR): Promise<string[]> {
  try {
    return (await readdir(runDir)).filter((n) => NAME.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Whether `path` is a live network namespace handle: a bind-mounted netns file or /proc/<pid>/ns/net of a live process. */
export async function isNetns(path: string): Promise<boolean> {
  if (path === '') return false;
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function checkName(name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new Error(`network namespace name ${JSON.stringify(name)}: letters, digits, "_", "." and "-" only, starting with a letter or digit`);
  }
}
