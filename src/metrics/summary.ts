/**
 * The part of kubelet's Summary (stats/v1alpha1, the agent's GET /stats/summary) that resource metrics read, and its
 * decoding into metric points as metrics-server's decode.go does it.
 */
import type { MetricsBatch, MetricsPoint, PodPoints } from './metrics-store.js';

interface CpuStats {
  time?: string;
  usageCoreNanoSeconds?: number;
}
interface MemoryStats {
  time?: string;
  workingSetBytes?: number;
}
export interface Summary {
  node?: { nodeName?: string; startTime?: string; cpu?: CpuStats; memory?: MemoryStats };
  pods?: Array<{
    podRef?: { name?: string; namespace?: string; uid?: string };
    containers?: Array<{ name?: string; startTime?: string; cpu?: CpuStats; memory?: MemoryStats }>;
  }>;
}

/**
 * A point from CPU and memory stats, or undefined when either is missing (metrics-server skips such a node or
 * container: "Failed getting complete node metric" / "...container metric"). Its time is the earlier of the two
 * readings (getScrapeTime), so a window never claims more than both readings cover.
 */
export function decodePoint(cpu: CpuStats | undefined, memory: MemoryStats | undefined, startTime: string | undefined): MetricsPoint | undefined {
  if (cpu?.usageCoreNanoSeconds === undefined || memory?.workingSetBytes === undefined) return undefined;
  const cpuTime = Date.parse(cpu.time ?? '');
  const memTime = Date.parse(memory.time ?? '');
  const times = [cpuTime, memTime].filter((t) => Number.isFinite(t));
  if (times.length === 0) return undefined;
  return {
    timestamp: Math.min(...times),
    startTime: startTime ? Date.parse(startTime) || 0 : 0,
    cumulativeCpuNs: cpu.usageCoreNanoSeconds,
    memoryWorkingSetBytes: memory.workingSetBytes,
  };
}

/** Adds one node's Summary to a batch: its node point (under `nodeName`, the Node object's name) and its pods. */
export function addSummary(batch: MetricsBatch, nodeName: string, summary: Summary): void {
  const node = decodePoint(summary.node?.cpu, summary.node?.memory, undefined);
  if (node) batch.nodes.set(nodeName, node);
  for (const pod of summary.pods ?? []) {
    const namespace = pod.podRef?.namespace;
    const name = pod.podRef?.name;
    if (!namespace || !name) continue;
    const containers = new Map<string, MetricsPoint>();
    for (const c of pod.containers ?? []) {
      const point = c.name ? decodePoint(c.cpu, c.memory, c.startTime) : undefined;
      if (point) containers.set(c.name!, point);
    }
    const entry: PodPoints = { namespace, name, containers };
    batch.pods.set(`${namespace}/${name}`, entry);
  }
}
