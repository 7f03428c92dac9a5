/**
 * HostMountPoints: the mount points the process runtime had to create on the host, and their removal once nothing
 * mounts there any more.
 *
 * Under the process runtime the host's filesystem is every container's root filesystem, so a volume's mountPath that
 * does not exist (a service account token's /var/run/secrets/kubernetes.io/serviceaccount, a /dev/termination-log)
 * can only be created on the host; a mount namespace isolates mounts, not directories. runc creates such mount points
 * inside the container's own root filesystem, which goes with the container; here they would stay on the host forever.
 *
 * So the supervisor creates them itself before a container starts (the container's init then finds them), records
 * each one (`<stateDir>/mount-points.json`: the target, the topmost directory that had to be made for it, directory or
 * empty file), and removes it again when no mount namespace on the machine has anything mounted there and no container
 * of this supervisor that is about to mount there is starting: its own containers, other agents' containers and
 * anything else on the host alike, found in /proc/<pid>/mountinfo, one process per mount namespace. Removing a path
 * that is a mount point in some other namespace would detach that mount there (Linux detaches mounts whose mount
 * point is unlinked in another namespace), hence the look at every namespace rather than at this supervisor's records.
 *
 * Only what was created is removed, and only as made: rmdir of empty directories (never a recursive delete) and unlink
 * of an empty regular file, from the target up to the topmost created directory; whatever someone put there since stays.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, statSync, unlinkSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

export interface MountPointRecord {
  /** The mount point (canonical: symlinks in its parents resolved, as mountinfo shows it). */
  target: string;
  /** The topmost path that did not exist before (target itself, or one of its parents). */
  top: string;
  kind: 'dir' | 'file';
}

export interface MountPointTarget {
  containerPath: string;
  hostPath: string;
}

/** What a sweep did: removed mount points, and those still in use (to look at again later). */
export interface SweepResult {
  removed: string[];
  busy: string[];
}

export class HostMountPoints {
  private readonly records = new Map<string, MountPointRecord>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'mount-points.json');
    try {
      for (const r of JSON.parse(readFileSync(this.file, 'utf8')) as MountPointRecord[]) if (r && typeof r.target === 'string' && typeof r.top === 'string') this.records.set(r.target, r);
    } catch {
      // none recorded yet (or a half-written file from a crash: at worst a mount point stays behind, as before)
    }
  }

  /** The recorded mount points. */
  list(): MountPointRecord[] {
    return [...this.records.values()];
  }

  /**
   * Creates the missing mount points of a container's volumes on the host and records them: a directory for a
   * directory source, an empty file for anything else (as the container's init would). Targets below another target
   * of the same container are left to the init: they are made inside that volume, not on the host's filesystem.
   * Failures are left for the init to report (it tries again and exits 125 with mount's words).
   */
  prepare(mounts: readonly MountPointTarget[]): MountPointRecord[] {
    const targets = mounts.map((m) => normalize(m.containerPath));
    const made: MountPointRecord[] = [];
    mounts.forEach((m, i) => {
      const target = targets[i]!;
      if (targets.some((other) => other !== target && target.startsWith(other.endsWith('/') ? other : `${other}/`))) return;
      if (exists(target)) return;
      try {
        const kind = isDirectory(m.hostPath) ? 'dir' : 'file';
        let top: string | undefined;
        if (kind === 'dir') {
          top = mkdirSync(target, { recursive: true });
          if (top === undefined) return; // made meanwhile by someone else: not ours
        } else {
          top = mkdirSync(dirname(target), { recursive: true });
          writeFileSync(target, '', { flag: 'wx' });
        }
        const canonical = realpathSync(target);
        // realpath of the top: its parents may be symlinks (/var/run → /run); the top itself was just made, so is none.
        const record: MountPointRecord = { target: canonical, top: top === undefined ? canonical : realpathSync(top), kind };
        this.records.set(canonical, record);
        made.push(record);
      } catch {
        // EEXIST (made meanwhile by someone else: not ours), EROFS, EACCES: the init tries and reports.
      }
    });
    if (made.length > 0) this.save();
    return made;
  }

  /**
   * Removes every recorded mount point that is not in use: not a mount point (nor holding one) in any mount namespace
   * on the machine, and not `starting(target)` (a container of this supervisor about to mount there).
   */
  sweep(starting: (target: string) => boolean): SweepResult {
    const result: SweepResult = { removed: [], busy: [] };
    if (this.records.size === 0) return result;
    const mounted = mountPointsInAnyNamespace();
    const inUse = (path: string) => {
      if (starting(path)) return true;
      const prefix = `${path}/`;
      for (const m of mounted) if (m === path || m.startsWith(prefix)) return true;
      return false;
    };
    for (const r of [...this.records.values()]) {
      if (inUse(r.target)) {
        result.busy.push(r.target);
        continue;
      }
      this.records.delete(r.target);
      if (removeCreated(r, inUse)) result.removed.push(r.target);
    }
    this.save();
    return result;
  }

  private save(): void {
    if (this.records.size === 0) {
      try {
        unlinkSync(this.file);
      } catch {
        // not there
      }
      return;
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.list()));
    renameSync(tmp, this.file);
  }
}

/** Removes the target (empty) and its created parents up to `top`; false when the target itself stays. */
function removeCreated(r: MountPointRecord, inUse: (path: string) => boolean): boolean {
  try {
    const st = lstatSync(r.target);
    if (r.kind === 'file') {
      if (!st.isFile() || st.size !== 0) return false;
      unlinkSync(r.target);
    } else {
      if (!st.isDirectory()) return false;
      rmdirSync(r.target); // ENOTEMPTY: someone's content, left alone
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
  }
  for (let dir = dirname(r.target); dir === r.top || dir.startsWith(`${r.top}/`); dir = dirname(dir)) {
    if (inUse(dir)) break;
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') break;
    }
  }
  return true;
}

/**
 * Every mount point in every mount namespace on the machine (as each namespace's processes see them, which for the
 * host's and the process runtime's namespaces is the host's root): one /proc/<pid>/mountinfo per namespace.
 */
export function mountPointsInAnyNamespace(): Set<string> {
  const seen = new Set<string>();
  const points = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return points;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${entry}/ns/mnt`);
    } catch {
      continue; // exited, or a kernel thread
    }
    if (seen.has(ns)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/mountinfo`, 'utf8');
    } catch {
      continue; // exited meanwhile: its namespace is looked at through another process, or is gone
    }
    seen.add(ns);
    for (const line of text.split('\n')) {
      const point = line.split(' ', 5)[4];
      if (point !== undefined) points.add(point.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
    }
  }
  return points;
}

function exists(path: string): boolean {
  return existsSync(path);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
