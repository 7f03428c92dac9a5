/**
 * The measurements node status is computed from, behind a small interface so tests can simulate pressure.
 * HostMeasurements reads the real machine: CPUs (os.availableParallelism, capped by a cgroup CPU quota), memory from
 * /proc/meminfo, the data dir's filesystem through statfs, and PIDs from /proc (kubelet: cAdvisor and pidlimit).
 *
 * Difference from kubelet: memory.available is MemAvailable from /proc/meminfo, where kubelet computes capacity minus
 * the root cgroup's working set; both count reclaimable page cache as available.
 */
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { FilesystemStats, NodeSample } from './eviction-thresholds.js';
import type { MachineCapacity } from './node-status.js';

export interface NodeMeasurements {
  /** What the machine offers. Called at every status computation; should be cheap. */
  capacity(): Promise<MachineCapacity>;
  /** Current availability; a part that cannot be measured is left out (its signals then never fire). */
  sample(): Promise<NodeSample>;
}

export interface HostMeasurementsOptions {
  /** The agent's data dir: its filesystem is nodefs and gives ephemeral-storage. */
  dataDir: string;
  /** The runtime's image store when it is elsewhere (a dedicated imagefs). */
  imageDir?: string;
  /** Where /proc and /sys are (tests point these at fixtures). */
  procRoot?: string;
  sysRoot?: string;
}

export class HostMeasurements implements NodeMeasurements {
  private readonly proc: string;
  private readonly sys: string;

  constructor(private readonly opts: HostMeasurementsOptions) {
    this.proc = opts.procRoot ?? '/proc';
    this.sys = opts.sysRoot ?? '/sys';
  }

  async capacity(): Promise<MachineCapacity> {
    const [meminfo, quota, fs] = await Promise.all([this.meminfo(), this.cpuQuotaMilli(), filesystem(this.opts.dataDir)]);
    const cores = availableParallelism() * 1000;
    return {
      cpuMilli: quota !== undefined ? Math.min(cores, quota) : cores,
      memoryBytes: meminfo.MemTotal ?? 0,
      ...(fs ? { ephemeralStorageBytes: fs.capacityBytes } : {}),
    };
  }

  async sample(): Promise<NodeSample> {
    const [meminfo, nodefs, imagefs, pids] = await Promise.all([
      this.meminfo(),
      filesystem(this.opts.dataDir),
      this.opts.imageDir ? filesystem(this.opts.imageDir) : Promise.resolve(undefined),
      this.pids(),
    ]);
    const sample: NodeSample = {};
    if (meminfo.MemTotal !== undefined && meminfo.MemAvailable !== undefined) sample.memory = { availableBytes: meminfo.MemAvailable, capacityBytes: meminfo.MemTotal };
    if (nodefs) sample.nodefs = nodefs;
    if (imagefs) sample.imagefs = imagefs;
    if (pids) sample.pids = pids;
    return sample;
  }

  /** /proc/meminfo values in bytes. */
  private async meminfo(): Promise<Record<string, number>> {
    const text = await readOptional(`${this.proc}/meminfo`);
    return text ? parseMeminfo(text) : {};
  }

  /** A CPU quota on our cgroup in millicores (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cfs_period_us); undefined = none. */
  private async cpuQuotaMilli(): Promise<number | undefined> {
    const v2 = await readOptional(`${this.sys}/fs/cgroup/cpu.max`);
    if (v2 !== undefined) return parseCpuMax(v2);
    const [quota, period] = await Promise.all([readOptional(`${this.sys}/fs/cgroup/cpu/cpu.cfs_quota_us`), readOptional(`${this.sys}/fs/cgroup/cpu/cpu.cfs_period_us`)]);
    if (quota === undefined || period === undefined) return undefined;
    return parseCpuMax(`${quota.trim() === '-1' ? 'max' : quota.trim()} ${period.trim()}`);
  }

  /** kubelet's pidlimit: max = min(pid_max, threads-max); running = scheduling entities (the loadavg total). */
  private async pids(): Promise<NodeSample['pids']> {
    const [pidMax, threadsMax, loadavg] = await Promise.all([
      readOptional(`${this.proc}/sys/kernel/pid_max`),
      readOptional(`${this.proc}/sys/kernel/threads-max`),
      readOptional(`${this.proc}/loadavg`),
    ]);
    const limits = [pidMax, threadsMax].map((t) => Number(t?.trim())).filter((n) => Number.isFinite(n) && n > 0);
    const running = Number(/\d+\/(\d+)/.exec(loadavg ?? '')?.[1]);
    if (!limits.length || !Number.isFinite(running)) return undefined;
    return { running, max: Math.min(...limits) };
  }
}

/** `MemTotal:  16318024 kB` lines → bytes by key. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]) * (line.trim().endsWith('kB') ? 1024 : 1);
  }
  return out;
}

/** cgroup v2 `cpu.max` (`max 100000` or `150000 100000`) → millicores, undefined when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!(q > 0) || !(p > 0)) return undefined;
  return Math.ceil((q / p) * 1000);
}

async function filesystem(path: string): Promise<FilesystemStats | undefined> {
  try {
    const s = await statfs(path);
    return { availableBytes: s.bavail * s.bsize, capacityBytes: s.blocks * s.bsize, inodesFree: s.ffree, inodes: s.files };
  } catch {
    return undefined;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
