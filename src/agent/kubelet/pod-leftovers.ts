/**
 * What a pod leaves on the node beyond its runtime objects, removed once the pod is gone for good: its cgroup
 * (kubelet's PodContainerManager.Destroy) and its log directory (kubelet's container GC removes the log directories
 * of pods that no longer exist). Under `cri`, runc removes each container's cgroup but never the pod cgroup the
 * kubelet named as cgroupParent, so without this every deleted pod left `pod<uid>` directories in every hierarchy.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Mount points of every cgroup hierarchy (v1 controllers, named ones such as name=systemd, and cgroup2). */
export function cgroupMountPoints(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fstype = right.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') points.push(left.split(' ')[4]!);
  }
  return [...new Set(points)];
}

/** The pod cgroup's path for each QoS class (podCgroupParent): the class may have changed since, so all are tried. */
export function podCgroupPaths(cgroupRoot: string, uid: string): string[] {
  const base = `/${cgroupRoot.replace(/^\/+|\/+$/g, '')}`;
  return [`${base}/pod${uid}`, `${base}/burstable/pod${uid}`, `${base}/besteffort/pod${uid}`];
}

/**
 * rmdir's the pod's cgroup and anything left beneath it, deepest first, in every hierarchy. Only empty cgroups can be
 * removed: one that still holds a process stays, and its path is returned.
 */
export function removePodCgroups(cgroupRoot: string, uid: string, mountPoints = cgroupMountPoints()): string[] {
  const busy: string[] = [];
  const remove = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) remove(join(dir, entry.name));
    try {
      rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') busy.push(`${dir} (${code})`);
    }
  };
  for (const mountPoint of mountPoints) {
    for (const path of podCgroupPaths(cgroupRoot, uid)) {
      const dir = join(mountPoint, path);
      if (existsSync(dir)) remove(dir);
    }
  }
  return busy;
}

/** Removes `<logRoot>/<namespace>_<name>_<uid>` (the name is not needed: the uid is unique). */
export async function removePodLogDirectory(logRoot: string, uid: string): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(logRoot);
  } catch {
    return; // no log root yet
  }
  for (const entry of entries) if (entry.endsWith(`_${uid}`)) await rm(join(logRoot, entry), { recursive: true, force: true });
}
