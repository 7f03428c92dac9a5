/**
 * The agent's /metrics/cadvisor: the container series Prometheus' kubernetes-cadvisor jobs and the usual dashboards
 * read, in cAdvisor's names and labels, from the runtime's stats (no cAdvisor inside):
 *   container_cpu_usage_seconds_total{container,id,image,name,namespace,pod}    cumulative CPU time, seconds
 *   container_memory_working_set_bytes{container,id,image,name,namespace,pod}  working set, bytes
 * Samples carry cAdvisor's explicit timestamps (the stats' own time, ms).
 */
import { escapeLabelValue } from './labeled-metrics.js';

/** One container's (or, with container '', one pod's) reading. */
export interface ContainerSample {
  namespace: string;
  pod: string;
  /** '' for the pod-level series (its cgroup), as cAdvisor reports the pod cgroup with an empty container label. */
  container: string;
  /** The cgroup-like path of the series: /kubepods/pod<uid>[/<container id>]. */
  id: string;
  image: string;
  /** The runtime's name for the container (its ID). */
  name: string;
  cpuSeconds?: number;
  cpuTimestampMs?: number;
  workingSetBytes?: number;
  memoryTimestampMs?: number;
}

function labels(s: ContainerSample): string {
  const pairs: [string, string][] = [['container', s.container], ['id', s.id], ['image', s.image], ['name', s.name], ['namespace', s.namespace], ['pod', s.pod]];
  return pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

/** The text exposition (format 0.0.4) of the samples. */
export function renderCadvisorMetrics(samples: readonly ContainerSample[]): string {
  const lines: string[] = [];
  lines.push('# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.');
  lines.push('# TYPE container_cpu_usage_seconds_total counter');
  for (const s of samples) {
    if (s.cpuSeconds === undefined) continue;
    lines.push(`container_cpu_usage_seconds_total{${labels(s)}} ${s.cpuSeconds}${s.cpuTimestampMs !== undefined ? ` ${Math.round(s.cpuTimestampMs)}` : ''}`);
  }
  lines.push('# HELP container_memory_working_set_bytes Current working set in bytes.');
  lines.push('# TYPE container_memory_working_set_bytes gauge');
  for (const s of samples) {
    if (s.workingSetBytes === undefined) continue;
    lines.push(`container_memory_working_set_bytes{${labels(s)}} ${s.workingSetBytes}${s.memoryTimestampMs !== undefined ? ` ${Math.round(s.memoryTimestampMs)}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
