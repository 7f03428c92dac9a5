/**
 * Cgroups for the process runtime: one directory per pod (the sandbox's cgroupParent) and one per container beneath it
 * (`<cgroupParent>/<containerId>`, the cgroupfs driver's layout), under every v1 hierarchy the machine mounts, or in the
 * unified v2 tree when /sys/fs/cgroup is cgroup2. All I/O is synchronous: these are tiny kernel files, and the supervisor
 * writes them between receiving a request and spawning, where ordering matters more than concurrency.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuUsage, LinuxResources, MemoryUsage } from '../types.js';

export interface CgroupLayout {
  version: 1 | 2;
  /** v1: controller name → mount point (co-mounted controllers share one); v2: { unified: mount }. */
  mounts: Map<string, string>;
}

/** v1 controllers the runtime uses; others (devices, blkio, net_cls...) are left alone. */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'cpuset', 'freezer'];

/** Reads /proc/self/mountinfo; undefined when no usable cgroup mount exists. */
export function detectCgroupLayout(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLayout | undefined {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = left.split(' ')[4]!;
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype === 'cgroup2' && mountPoint === '/sys/fs/cgroup') unified = mountPoint;
    if (fstype !== 'cgroup') continue;
    for (const option of superOptions.split(',')) if (V1_CONTROLLERS.includes(option) && !v1.has(option)) v1.set(option, mountPoint);
  }
  if (unified !== undefined) return { version: 2, mounts: new Map([['unified', unified]]) };
  if (v1.size > 0) return { version: 1, mounts: v1 };
  return undefined;
}

/** A cgroup at one path in every hierarchy. */
export class Cgroup {
  constructor(
    readonly layout: CgroupLayout,
    /** Absolute within each hierarchy, e.g. /skiff-kubepods/pod123/abc. */
    readonly path: string,
  ) {
    if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`invalid cgroup path ${JSON.stringify(path)}`);
  }

  /** The directory for a controller ('unified' on v2), or undefined when the machine does not mount it. */
  dir(controller: string): string | undefined {
    const mount = this.layout.version === 2 ? this.layout.mounts.get('unified') : this.layout.mounts.get(controller);
    return mount === undefined ? undefined : join(mount, this.path);
  }

  /** Every distinct directory of this cgroup (a co-mounted hierarchy counts once). */
  dirs(): string[] {
    return [...new Set([...this.layout.mounts.values()])].map((m) => join(m, this.path));
  }

  /** The cgroup.procs files a process writes itself into ("0") to join this cgroup everywhere. */
  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, 'cgroup.procs'));
  }

  /** Creates every level that is missing. cpuset levels get their parent's cpus and mems (new v1 cpusets start empty). */
  create(): void {
    const parts = this.path.split('/').filter(Boolean);
    if (this.layout.version === 2) {
      const mount = this.layout.mounts.get('unified')!;
      let dir = mount;
      for (const part of parts) {
        // Controllers must be enabled in the parent's subtree_control for the child to get them.
        enableV2Controllers(dir);
        dir = join(dir, part);
        if (!existsSync(dir)) mkdirSync(dir);
      }
      return;
    }
    for (const [controller, mount] of this.layout.mounts) {
      let dir = mount;
      for (const part of parts) {
        const parent = dir;
        dir = join(dir, part);
        if (existsSync(dir)) continue;
        mkdirSync(dir);
        if (controller === 'cpuset') {
          for (const file of ['cpuset.cpus', 'cpuset.mems']) {
            if (readTrim(join(dir, file)) === '') writeFileSync(join(dir, file), readTrim(join(parent, file)) ?? '');
          }
        }
      }
    }
  }

  /** Writes limits in the kernel's units; undefined fields are left as they are. */
  setResources(r: LinuxResources): void {
    if (this.layout.version === 2) {
      const dir = this.dir('unified')!;
      if (r.memoryLimitBytes !== undefined) writeFileSync(join(dir, 'memory.max'), r.memoryLimitBytes > 0 ? String(r.memoryLimitBytes) : 'max');
      if (r.cpuShares !== undefined && r.cpuShares > 0) writeFileSync(join(dir, 'cpu.weight'), String(cpuSharesToWeight(r.cpuShares)));
      if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
        const quota = r.cpuQuota !== undefined && r.cpuQuota > 0 ? String(r.cpuQuota) : 'max';
        writeFileSync(join(dir, 'cpu.max'), `${quota} ${r.cpuPeriod ?? 100000}`);
      }
      if (r.pidsLimit !== undefined) writeFileSync(join(dir, 'pids.max'), r.pidsLimit > 0 ? String(r.pidsLimit) : 'max');
      return;
    }
    const mem = this.dir('memory');
    if (mem !== undefined && r.memoryLimitBytes !== undefined) writeFileSync(join(mem, 'memory.limit_in_bytes'), r.memoryLimitBytes > 0 ? String(r.memoryLimitBytes) : '-1');
    const cpu = this.dir('cpu');
    if (cpu !== undefined) {
      if (r.cpuShares !== undefined && r.cpuShares > 0) writeFileSync(join(cpu, 'cpu.shares'), String(Math.max(2, r.cpuShares)));
      if (r.cpuPeriod !== undefined && r.cpuPeriod > 0) writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(r.cpuPeriod));
      if (r.cpuQuota !== undefined) writeFileSync(join(cpu, 'cpu.cfs_quota_us'), r.cpuQuota > 0 ? String(r.cpuQuota) : '-1');
    }
    const pids = this.dir('pids');
    if (pids !== undefined && r.pidsLimit !== undefined) writeFileSync(join(pids, 'pids.max'), r.pidsLimit > 0 ? String(r.pidsLimit) : 'max');
  }

  /** Host pids in this cgroup (and, on v1, only in the memory or first hierarchy: every process is in all of them). */
  pids(): number[] {
    const dir = this.dir('memory') ?? this.dir('pids') ?? this.dirs()[0];
    const text = dir === undefined ? undefined : readTrim(join(dir, 'cgroup.procs'));
    return text === undefined || text === '' ? [] : text.split('\n').map(Number);
  }

  /** The kernel's count of OOM kills in this cgroup (memory.oom_control on v1, memory.events on v2). */
  oomKills(): number {
    const text = this.layout.version === 2 ? readTrim(join(this.dir('unified')!, 'memory.events')) : this.dir('memory') && readTrim(join(this.dir('memory')!, 'memory.oom_control'));
    const m = text === undefined ? null : /^oom_kill (\d+)$/m.exec(text);
    return m === null ? 0 : Number(m[1]);
  }

  cpu(timestamp: number): CpuUsage | undefined {
    if (this.layout.version === 2) {
      const m = /^usage_usec (\d+)$/m.exec(readTrim(join(this.dir('unified')!, 'cpu.stat')) ?? '');
      return m === null ? undefined : { usageCoreNanoSeconds: Number(m[1]) * 1000, timestamp };
    }
    const dir = this.dir('cpuacct');
    const usage = dir === undefined ? undefined : readTrim(join(dir, 'cpuacct.usage'));
    return usage === undefined ? undefined : { usageCoreNanoSeconds: Number(usage), timestamp };
  }

  /** Working set = usage - inactive file, as cAdvisor computes it (kubelet's eviction signal uses the same). */
  memory(timestamp: number): MemoryUsage | undefined {
    const v2 = this.layout.version === 2;
    const dir = v2 ? this.dir('unified') : this.dir('memory');
    if (dir === undefined) return undefined;
    const usageText = readTrim(join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'));
    if (usageText === undefined) return undefined;
    const stat = parseStat(readTrim(join(dir, 'memory.stat')) ?? '');
    const usageBytes = Number(usageText);
    const inactiveFile = (v2 ? stat.inactive_file : stat.total_inactive_file) ?? 0;
    return {
      usageBytes,
      workingSetBytes: Math.max(0, usageBytes - inactiveFile),
      rssBytes: (v2 ? stat.anon : stat.total_rss) ?? 0,
      pageFaults: (v2 ? stat.pgfault : stat.total_pgfault) ?? 0,
      majorPageFaults: (v2 ? stat.pgmajfault : stat.total_pgmajfault) ?? 0,
      timestamp,
    };
  }

  processCount(): number | undefined {
    const dir = this.layout.version === 2 ? this.dir('unified') : this.dir('pids');
    const text = dir === undefined ? undefined : readTrim(join(dir, 'pids.current'));
    return text === undefined ? undefined : Number(text);
  }

  /**
   * rmdir in every hierarchy (cgroups are removed with rmdir, never rm -r). Returns false when a directory is still busy
   * (processes not yet gone, or child cgroups); missing directories count as removed.
   */
  remove(): boolean {
    let ok = true;
    for (const dir of this.dirs()) {
      try {
        rmdirSync(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') ok = false;
      }
    }
    return ok;
  }

  /** Removes this cgroup and then its empty ancestors strictly below `stopAt` (e.g. the runtime's root). */
  removeWithAncestors(stopAt: string): boolean {
    if (!this.remove()) return false;
    let path = this.path;
    for (;;) {
      path = path.slice(0, path.lastIndexOf('/'));
      if (path === '' || path === stopAt || !path.startsWith(`${stopAt}/`)) return true;
      if (!new Cgroup(this.layout, path).remove()) return true;
    }
  }
}

function enableV2Controllers(dir: string): void {
  const available = (readTrim(join(dir, 'cgroup.controllers')) ?? '').split(' ');
  const enabled = (readTrim(join(dir, 'cgroup.subtree_control')) ?? '').split(' ');
  const want = ['cpu', 'memory', 'pids', 'cpuset'].filter((c) => available.includes(c) && !enabled.includes(c));
  if (want.length > 0) writeFileSync(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
}

/** runc's conversion (libcontainer/cgroups ConvertCPUSharesToCgroupV2Value): [2, 262144] → [1, 10000]. */
export function cpuSharesToWeight(shares: number): number {
  return 1 + Math.floor(((Math.min(262144, Math.max(2, shares)) - 2) * 9999) / 262142);
}

function parseStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
