/**
 * The few mount operations volumes need (tmpfs for memory-backed emptyDir and for secrets), through util-linux's
 * mount/umount, and the host's mount table from /proc/self/mountinfo. Behind an interface so tests and non-root
 * agents can run without mounting.
 */
import { readFile } from 'node:fs/promises';
import { sep } from 'node:path';
import { execFileInThread } from '../network/exec-thread.js';

export interface Mounter {
  /** Mounts a tmpfs at `path` (an existing directory); `sizeBytes` caps it (tmpfs `size=`). */
  mountTmpfs(path: string, sizeBytes?: bigint): Promise<void>;
  unmount(path: string): Promise<void>;
  /** Mount points at `dir` or below it, deepest first (the order to unmount them). */
  mountPointsUnder(dir: string): Promise<string[]>;
}

/** Undoes mountinfo's octal escapes (`\040` for a space). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points listed in a /proc/self/mountinfo text (the fifth field of each line). */
export function parseMountInfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 5) out.push(unescapeMountPath(f[4]!));
  }
  return out;
}

export function pathsUnder(mountPoints: readonly string[], dir: string): string[] {
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return [...new Set(mountPoints.filter((m) => m === dir || m.startsWith(prefix)))].sort((a, b) => b.length - a.length);
}

async function runOrExplain(cmd: string, args: string[]): Promise<void> {
  try {
    // From the exec thread: a spawn from the agent's big process blocks its thread until the child has exec'd (~17 ms
    // per tmpfs mount on a loaded node, on the pod start path of every pod with a service account token).
    await execFileInThread(cmd, args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export class HostMounter implements Mounter {
  async mountTmpfs(path: string, sizeBytes?: bigint): Promise<void> {
    // emptyDir directories are world-writable (kubelet's perm 0777), so any container user can use them.
    const options = ['mode=0777', ...(sizeBytes !== undefined && sizeBytes > 0n ? [`size=${sizeBytes}`] : [])];
    await runOrExplain('mount', ['-t', 'tmpfs', '-o', options.join(','), 'tmpfs', path]);
  }

  async unmount(path: string): Promise<void> {
    await runOrExplain('umount', [path]);
  }

  async mountPointsUnder(dir: string): Promise<string[]> {
    return pathsUnder(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), dir);
  }
}

/** A mounter for agents without root: never mounts, so memory-backed volumes are plain directories. */
export class NoMounter implements Mounter {
  async mountTmpfs(): Promise<void> {
    throw new Error('mounting needs root');
  }
  async unmount(): Promise<void> {}
  async mountPointsUnder(): Promise<string[]> {
    return [];
  }
}
