/**
 * The last two samples of every node and container, and the usage computed from them, as metrics-server's storage
 * (pkg/storage/node_storage.go, pod_storage.go): CPU is the rate of the cumulative counter between the two samples
 * (usageNanoCores), memory the newest working set; the timestamp is the newer sample's and the window the time between
 * them. A node or pod without two samples has no metrics yet (kubectl top: "metrics not available yet").
 */

/** One reading of a node or container: the cumulative CPU counter and the working set, as the agent's Summary gives them. */
export interface MetricsPoint {
  /** When the reading was taken (ms since the epoch): the earlier of the CPU and memory times (metrics-server's getScrapeTime). */
  timestamp: number;
  /** When the container (or node) started (ms), to tell a restarted container's counter from a continuing one. */
  startTime: number;
  cumulativeCpuNs: number;
  memoryWorkingSetBytes: number;
}

export interface PodPoints {
  namespace: string;
  name: string;
  containers: Map<string, MetricsPoint>;
}

/** One scrape of every node: points by node name, pods by `namespace/name`. */
export interface MetricsBatch {
  nodes: Map<string, MetricsPoint>;
  pods: Map<string, PodPoints>;
}

export interface Usage {
  /** CPU in nanocores (the Quantity `<n>n`). */
  cpuNanoCores: number;
  memoryBytes: number;
  /** The newer sample's time (ms) and the time between the two samples (ms). */
  timestamp: number;
  windowMs: number;
}

/**
 * The usage between two readings, or an error text when they cannot give one: metrics-server's resourceUsage.
 * A counter that went backwards (a restart the start time did not show) or a window of zero gives no rate.
 */
export function computeUsage(last: MetricsPoint, prev: MetricsPoint): Usage | string {
  if (last.cumulativeCpuNs < prev.cumulativeCpuNs) return 'unexpected decrease in cumulative CPU usage value';
  const windowMs = last.timestamp - prev.timestamp;
  if (windowMs <= 0) return 'the two samples have the same time';
  // nanoseconds of CPU per second of window = nanocores; truncated as uint64(cpuUsage) upstream.
  const cpuNanoCores = Math.floor((last.cumulativeCpuNs - prev.cumulativeCpuNs) / (windowMs / 1000));
  return { cpuNanoCores, memoryBytes: last.memoryWorkingSetBytes, timestamp: last.timestamp, windowMs };
}

/**
 * Which earlier point a new one keeps as its predecessor (node_storage.go Store): the stored last one when the new
 * point is newer (and, for containers, the same instance: same start time), else the stored previous one when it is
 * still older than the new point, else none.
 */
export function computePrevious(newPoint: MetricsPoint, last: MetricsPoint | undefined, prev: MetricsPoint | undefined, sameInstance = true): MetricsPoint | undefined {
  if (last && sameInstance && newPoint.timestamp > last.timestamp) return last;
  if (last && newPoint.timestamp <= last.timestamp && prev && prev.timestamp < newPoint.timestamp && prev.startTime === newPoint.startTime) return prev;
  return undefined;
}

export interface ContainerUsage extends Usage {
  name: string;
}

export interface PodUsage {
  namespace: string;
  name: string;
  timestamp: number;
  windowMs: number;
  containers: ContainerUsage[];
}

/** Samples kept between scrapes; `store` takes a whole scrape, as metrics-server's storage does. */
export class MetricsStore {
  private lastNodes = new Map<string, MetricsPoint>();
  private prevNodes = new Map<string, MetricsPoint>();
  private lastPods = new Map<string, PodPoints>();
  private prevPods = new Map<string, PodPoints>();

  /**
   * Replaces what is kept by this scrape. Nodes and pods not in it are forgotten (a node that did not answer has no
   * metrics until it answered twice again, as metrics-server drops a failed node's points).
   */
  store(batch: MetricsBatch): void {
    const prevNodes = new Map<string, MetricsPoint>();
    for (const [name, point] of batch.nodes) {
      const prev = computePrevious(point, this.lastNodes.get(name), this.prevNodes.get(name));
      if (prev) prevNodes.set(name, prev);
    }
    const prevPods = new Map<string, PodPoints>();
    for (const [key, pod] of batch.pods) {
      const lastPod = this.lastPods.get(key);
      const prevPod = this.prevPods.get(key);
      const containers = new Map<string, MetricsPoint>();
      for (const [name, point] of pod.containers) {
        const last = lastPod?.containers.get(name);
        const prev = computePrevious(point, last, prevPod?.containers.get(name), last?.startTime === point.startTime);
        if (prev) containers.set(name, prev);
      }
      if (containers.size > 0) prevPods.set(key, { namespace: pod.namespace, name: pod.name, containers });
    }
    this.lastNodes = batch.nodes;
    this.prevNodes = prevNodes;
    this.lastPods = batch.pods;
    this.prevPods = prevPods;
  }

  /** The node's usage, or undefined while it has fewer than two samples. */
  node(name: string): Usage | undefined {
    const last = this.lastNodes.get(name);
    const prev = this.prevNodes.get(name);
    if (!last || !prev) return undefined;
    const u = computeUsage(last, prev);
    return typeof u === 'string' ? undefined : u;
  }

  nodeNames(): string[] {
    return [...this.lastNodes.keys()];
  }

  /**
   * The pod's usage, or undefined unless every container of its last sample has a usage (pod_storage.go GetMetrics:
   * a pod with a container missing is left out rather than under-reported). Containers sorted by name.
   */
  pod(namespace: string, name: string): PodUsage | undefined {
    const key = `${namespace}/${name}`;
    const last = this.lastPods.get(key);
    const prev = this.prevPods.get(key);
    if (!last || !prev || last.containers.size === 0) return undefined;
    const containers: ContainerUsage[] = [];
    let timestamp = 0;
    let windowMs = 0;
    for (const [cname, point] of last.containers) {
      const before = prev.containers.get(cname);
      if (!before) return undefined;
      const u = computeUsage(point, before);
      if (typeof u === 'string') return undefined;
      containers.push({ name: cname, ...u });
      // The pod's time and window: its newest container sample's (they come from one scrape).
      if (u.timestamp > timestamp) {
        timestamp = u.timestamp;
        windowMs = u.windowMs;
      }
    }
    containers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { namespace, name, timestamp, windowMs, containers };
  }

  /** `namespace/name` of every pod in the last scrape. */
  podKeys(): IterableIterator<string> {
    return this.lastPods.keys();
  }
}
