/**
 * One node agent's kubelet metrics (pkg/kubelet/metrics), in a registry of its own so that each agent's /metrics shows
 * its own node, even with several agents (or an agent and a server) in one process:
 *   kubelet_pod_start_duration_seconds   from the kubelet first seeing a pod to its status first reading Running
 *   kubelet_running_pods                 pods with a ready sandbox, counted from the runtime at scrape time
 *   kubelet_running_containers{container_state}   containers by state (created, running, exited, unknown), likewise
 *   kubelet_node_name{node}              always 1
 */
import { type HistogramCell, LabeledGauge, LabeledHistogram } from './labeled-metrics.js';
import { MetricsRegistry } from './registries.js';

/** pkg/kubelet/metrics podStartupDurationBuckets. */
export const POD_START_BUCKETS = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];

export class KubeletMetrics {
  readonly registry = new MetricsRegistry();
  private readonly podStart: HistogramCell;
  private runningPods: () => Promise<number> = async () => 0;
  private containerStates: () => Promise<string[]> = async () => [];

  constructor(nodeName: string) {
    this.podStart = new LabeledHistogram('kubelet_pod_start_duration_seconds', 'Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run', [], POD_START_BUCKETS)
      .register(this.registry)
      .child();
    new LabeledGauge('kubelet_running_pods', 'Number of pods that have a running pod sandbox', [], async () => [[[], await this.runningPods()]]).register(this.registry);
    new LabeledGauge('kubelet_running_containers', 'Number of containers currently running', ['container_state'], async () => {
      const counts = new Map<string, number>();
      for (const state of await this.containerStates()) counts.set(state, (counts.get(state) ?? 0) + 1);
      return [...counts].map(([state, n]) => [[state], n] as [string[], number]);
    }).register(this.registry);
    new LabeledGauge('kubelet_node_name', "The node's name. The count is always 1.", ['node']).register(this.registry).child(nodeName).set(1);
  }

  /** A pod first seen at `firstSeenMs` (performance.now()) reads Running for the first time. */
  podStarted(firstSeenMs: number): void {
    this.podStart.observe((performance.now() - firstSeenMs) / 1000);
  }

  /** Where kubelet_running_pods comes from (the runtime's ready sandboxes). */
  countRunningPodsWith(count: () => Promise<number>): void {
    this.runningPods = count;
  }

  /** Where kubelet_running_containers comes from: the state of every container the runtime has. */
  countContainersWith(states: () => Promise<string[]>): void {
    this.containerStates = states;
  }
}
