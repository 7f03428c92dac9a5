/**
 * The HPA's replica arithmetic (upstream pkg/controller/podautoscaler/replica_calculator.go, 1.32): how many pods a
 * metric asks for, given the pods and their samples. The `compute*` functions are pure (pods, metrics and `now` in,
 * a count or an Error out); ReplicaCalculator only fetches metrics and pods and hands them over.
 *
 * The rules, as upstream: a change within the tolerance (10 %) is no change; pods being deleted or Failed are
 * ignored; Pending pods, and for CPU pods not yet ready within the initialization period, are "unready": left out,
 * and counted as using nothing when the ratio says scale up; pods without a sample are "missing": counted as using
 * their request (or the target) when scaling down and nothing when scaling up; if that second look reverses the
 * direction or lands within the tolerance, the count stays.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseTime } from '../../api/time.js';
import { podReadyCondition } from '../../api/pod.js';
import { milliOf, type MetricsClient, type PodMetricsInfo } from './metrics-client.js';
import type { CrossVersionObjectReference } from 'kubernetes-types/autoscaling/v2.js';

export interface CalculatorOptions {
  /** Relative change below which nothing changes (kube-controller-manager --horizontal-pod-autoscaler-tolerance, 0.1). */
  tolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period (5 min): CPU samples of young pods need care. */
  cpuInitializationPeriodMs: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay (30 s). */
  delayOfInitialReadinessStatusMs: number;
}

export const defaultCalculatorOptions: CalculatorOptions = { tolerance: 0.1, cpuInitializationPeriodMs: 5 * 60_000, delayOfInitialReadinessStatusMs: 30_000 };

export interface PodGroups {
  readyPodCount: number;
  /** Pending, or (for CPU) not ready yet: their samples are not trusted. */
  unready: Set<string>;
  /** Running without a sample. */
  missing: Set<string>;
  /** Being deleted or Failed: left out entirely. */
  ignored: Set<string>;
}

/** Sorts pods into ready (with a trusted sample), unready, missing and ignored (upstream groupPods). */
export function groupPods(pods: Pod[], metrics: PodMetricsInfo, resource: string, opts: CalculatorOptions, now: Date): PodGroups {
  const g: PodGroups = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '';
    if (pod.status?.phase === 'Failed' || pod.metadata?.deletionTimestamp) {
      g.ignored.add(name);
      continue;
    }
    if (pod.status?.phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      g.missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const cond = podReadyCondition(pod);
      const start = pod.status?.startTime ? parseTime(pod.status.startTime) : undefined;
      let unready: boolean;
      if (!cond || start === undefined) {
        unready = true;
      } else {
        const transition = parseTime(cond.lastTransitionTime) ?? 0;
        if (start + opts.cpuInitializationPeriodMs > now.getTime()) {
          // Within the initialization period: unready, or ready so recently that no full window was sampled since.
          unready = cond.status === 'False' || metric.timestamp.getTime() < transition + metric.windowMs;
        } else {
          // Later: only a pod that has never been ready is distrusted.
          unready = cond.status === 'False' && start + opts.delayOfInitialReadinessStatusMs > transition;
        }
      }
      if (unready) {
        g.unready.add(name);
        continue;
      }
    }
    g.readyPodCount++;
  }
  return g;
}

/**
 * Each pod's request of `resource` in milli-units, summed over its containers (and restartable init containers),
 * or only the one named `container`. A container without the request is an error, worded as upstream.
 */
export function computePodRequests(pods: Pod[], container: string, resource: string): Map<string, number> {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
    let sum = 0;
    for (const c of containers) {
      if (container && c.name !== container) continue;
      const req = c.resources?.requests?.[resource];
      if (req === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata?.name ?? ''}`);
      sum += milliOf(req);
    }
    requests.set(pod.metadata?.name ?? '', sum);
  }
  return requests;
}

/** Usage over request of the pods that have both, as upstream GetResourceUtilizationRatio (integer percent). */
export function resourceUtilizationRatio(metrics: PodMetricsInfo, requests: Map<string, number>, targetUtilization: number): { ratio: number; utilization: number; rawAverage: number } {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let n = 0;
  for (const [name, m] of metrics) {
    const req = requests.get(name);
    if (req === undefined) continue;
    metricsTotal += m.value;
    requestsTotal += req;
    n++;
  }
  if (requestsTotal === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / n) };
}

/** The average sample over the target, as upstream GetMetricUtilizationRatio. */
export function metricUtilizationRatio(metrics: PodMetricsInfo, target: number): { ratio: number; utilization: number } {
  let total = 0;
  for (const m of metrics.values()) total += m.value;
  const utilization = Math.trunc(total / metrics.size);
  return { ratio: utilization / target, utilization };
}

export interface ResourceReplicasInput {
  currentReplicas: number;
  /** Target percentage of the request. */
  targetUtilization: number;
  resource: string;
  /** '' = the whole pod (Resource); a name = that container (ContainerResource). */
  container: string;
  pods: Pod[];
  metrics: PodMetricsInfo;
  now: Date;
  opts?: CalculatorOptions;
}

/** Replicas for a Resource/ContainerResource Utilization target (GetResourceReplicas). */
export function computeResourceReplicas(input: ResourceReplicasInput): { replicas: number; utilization: number; rawUtilization: number } {
  const opts = input.opts ?? defaultCalculatorOptions;
  if (input.pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
  const metrics: PodMetricsInfo = new Map(input.metrics);
  const g = groupPods(input.pods, metrics, input.resource, opts, input.now);
  for (const n of [...g.ignored, ...g.unready]) metrics.delete(n);
  const requests = computePodRequests(input.pods, input.container, input.resource);
  if (metrics.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const first = resourceUtilizationRatio(metrics, requests, input.targetUtilization);
  const keep = { replicas: input.currentReplicas, utilization: first.utilization, rawUtilization: first.rawAverage };
  const rebalanceUnready = g.unready.size > 0 && first.ratio > 1;
  if (!rebalanceUnready && g.missing.size === 0) {
    if (Math.abs(1 - first.ratio) <= opts.tolerance) return keep;
    return { ...keep, replicas: Math.ceil(first.ratio * g.readyPodCount) };
  }
  if (g.missing.size > 0) {
    for (const n of g.missing) {
      if (first.ratio < 1) metrics.set(n, { value: requests.get(n) ?? 0, timestamp: input.now, windowMs: 0 });
      else if (first.ratio > 1) metrics.set(n, { value: 0, timestamp: input.now, windowMs: 0 });
    }
  }
  if (rebalanceUnready) for (const n of g.unready) metrics.set(n, { value: 0, timestamp: input.now, windowMs: 0 });
  const second = resourceUtilizationRatio(metrics, requests, input.targetUtilization);
  if (Math.abs(1 - second.ratio) <= opts.tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return keep;
  const replicas = Math.ceil(second.ratio * metrics.size);
  if ((second.ratio < 1 && replicas > input.currentReplicas) || (second.ratio > 1 && replicas < input.currentReplicas)) return keep;
  return { ...keep, replicas };
}

export interface PlainReplicasInput {
  currentReplicas: number;
  /** Target average per pod, milli-units. */
  target: number;
  /** 'cpu' applies the CPU readiness rules; '' for custom metrics. */
  resource: string;
  pods: Pod[];
  metrics: PodMetricsInfo;
  now: Date;
  opts?: CalculatorOptions;
}

/** Replicas for an AverageValue target of a resource or a Pods metric (calcPlainMetricReplicas). */
export function computePlainMetricReplicas(input: PlainReplicasInput): { replicas: number; utilization: number } {
  const opts = input.opts ?? defaultCalculatorOptions;
  if (input.pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
  const metrics: PodMetricsInfo = new Map(input.metrics);
  const g = groupPods(input.pods, metrics, input.resource, opts, input.now);
  for (const n of [...g.ignored, ...g.unready]) metrics.delete(n);
  if (metrics.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const first = metricUtilizationRatio(metrics, input.target);
  const keep = { replicas: input.currentReplicas, utilization: first.utilization };
  const rebalanceUnready = g.unready.size > 0 && first.ratio > 1;
  if (!rebalanceUnready && g.missing.size === 0) {
    if (Math.abs(1 - first.ratio) <= opts.tolerance) return keep;
    return { ...keep, replicas: Math.ceil(first.ratio * g.readyPodCount) };
  }
  for (const n of g.missing) metrics.set(n, { value: first.ratio < 1 ? input.target : 0, timestamp: input.now, windowMs: 0 });
  if (rebalanceUnready) for (const n of g.unready) metrics.set(n, { value: 0, timestamp: input.now, windowMs: 0 });
  const second = metricUtilizationRatio(metrics, input.target);
  if (Math.abs(1 - second.ratio) <= opts.tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return keep;
  const replicas = Math.ceil(second.ratio * metrics.size);
  if ((second.ratio < 1 && replicas > input.currentReplicas) || (second.ratio > 1 && replicas < input.currentReplicas)) return keep;
  return { ...keep, replicas };
}

/** Running and Ready pods (getReadyPodsCount); errors when the selector matches nothing. */
export function readyPodCount(pods: Pod[]): number {
  if (pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
  return pods.filter((p) => p.status?.phase === 'Running' && podReadyCondition(p)?.status === 'True').length;
}

/**
 * Replicas for a total-value target (Object Value, External Value): the ratio times the ready pods, or, from zero
 * replicas, the ratio itself rounded up (getUsageRatioReplicaCount).
 */
export function computeUsageRatioReplicas(currentReplicas: number, usageRatio: number, pods: Pod[], opts: CalculatorOptions = defaultCalculatorOptions): number {
  if (currentReplicas === 0) return Math.ceil(usageRatio);
  if (Math.abs(1 - usageRatio) <= opts.tolerance) return currentReplicas;
  return Math.ceil(usageRatio * readyPodCount(pods));
}

/** Replicas for a per-pod average of a total (Object/External AverageValue): total / target, outside the tolerance. */
export function computePerPodReplicas(statusReplicas: number, total: number, targetPerPod: number, opts: CalculatorOptions = defaultCalculatorOptions): { replicas: number; utilization: number } {
  let replicas = statusReplicas;
  const ratio = total / (targetPerPod * statusReplicas);
  if (Math.abs(1 - ratio) > opts.tolerance) replicas = Math.ceil(total / targetPerPod);
  return { replicas, utilization: Math.ceil(total / statusReplicas) };
}

/** Fetches samples and pods for the compute* functions; the error messages are upstream's. */
export class ReplicaCalculator {
  constructor(
    private readonly metricsClient: MetricsClient,
    /** The pods of a namespace matching a selector string (the controller's informer cache). */
    private readonly listPods: (namespace: string, selector: string) => Pod[],
    private readonly now: () => Date,
    private readonly opts: CalculatorOptions = defaultCalculatorOptions,
  ) {}

  async resourceReplicas(currentReplicas: number, targetUtilization: number, resource: string, container: string, namespace: string, selector: string) {
    const { metrics, timestamp } = await this.metricsClient.getResourceMetric(resource, namespace, selector, container).catch((err: unknown) => {
      throw new Error(`unable to get metrics for resource ${resource}: ${(err as Error).message}`);
    });
    const r = computeResourceReplicas({ currentReplicas, targetUtilization, resource, container, pods: this.listPods(namespace, selector), metrics, now: this.now(), opts: this.opts });
    return { ...r, timestamp };
  }

  async rawResourceReplicas(currentReplicas: number, target: number, resource: string, container: string, namespace: string, selector: string) {
    const { metrics, timestamp } = await this.metricsClient.getResourceMetric(resource, namespace, selector, container).catch((err: unknown) => {
      throw new Error(`unable to get metrics for resource ${resource}: ${(err as Error).message}`);
    });
    const r = computePlainMetricReplicas({ currentReplicas, target, resource, pods: this.listPods(namespace, selector), metrics, now: this.now(), opts: this.opts });
    return { ...r, timestamp };
  }

  async metricReplicas(currentReplicas: number, target: number, metricName: string, namespace: string, selector: string, metricSelector: string) {
    const { metrics, timestamp } = await this.metricsClient.getRawMetric(metricName, namespace, selector, metricSelector).catch((err: unknown) => {
      throw new Error(`unable to get metric ${metricName}: ${(err as Error).message}`);
    });
    const r = computePlainMetricReplicas({ currentReplicas, target, resource: '', pods: this.listPods(namespace, selector), metrics, now: this.now(), opts: this.opts });
    return { ...r, timestamp };
  }

  async objectMetricReplicas(currentReplicas: number, target: number, metricName: string, namespace: string, ref: CrossVersionObjectReference, selector: string, metricSelector: string) {
    const { value, timestamp } = await this.objectMetric(metricName, namespace, ref, metricSelector);
    const replicas = computeUsageRatioReplicas(currentReplicas, value / target, this.listPods(namespace, selector), this.opts);
    return { replicas, utilization: value, timestamp };
  }

  async objectPerPodMetricReplicas(statusReplicas: number, targetPerPod: number, metricName: string, namespace: string, ref: CrossVersionObjectReference, metricSelector: string) {
    const { value, timestamp } = await this.objectMetric(metricName, namespace, ref, metricSelector);
    return { ...computePerPodReplicas(statusReplicas, value, targetPerPod, this.opts), timestamp };
  }

  async externalMetricReplicas(currentReplicas: number, target: number, metricName: string, namespace: string, metricSelector: string, selector: string) {
    const { values, timestamp } = await this.externalMetric(metricName, namespace, metricSelector);
    const total = values.reduce((a, b) => a + b, 0);
    const replicas = computeUsageRatioReplicas(currentReplicas, total / target, this.listPods(namespace, selector), this.opts);
    return { replicas, utilization: total, timestamp };
  }

  async externalPerPodMetricReplicas(statusReplicas: number, targetPerPod: number, metricName: string, namespace: string, metricSelector: string) {
    const { values, timestamp } = await this.externalMetric(metricName, namespace, metricSelector);
    const total = values.reduce((a, b) => a + b, 0);
    return { ...computePerPodReplicas(statusReplicas, total, targetPerPod, this.opts), timestamp };
  }

  private objectMetric(metricName: string, namespace: string, ref: CrossVersionObjectReference, metricSelector: string) {
    return this.metricsClient.getObjectMetric(metricName, namespace, ref, metricSelector).catch((err: unknown) => {
      throw new Error(`unable to get metric ${metricName}: ${ref.kind} on ${namespace} ${ref.name}/${(err as Error).message}`);
    });
  }

  private externalMetric(metricName: string, namespace: string, metricSelector: string) {
    return this.metricsClient.getExternalMetric(metricName, namespace, metricSelector).catch((err: unknown) => {
      throw new Error(`unable to get external metric ${namespace}/${metricName}/${metricSelector}: ${(err as Error).message}`);
    });
  }
}
