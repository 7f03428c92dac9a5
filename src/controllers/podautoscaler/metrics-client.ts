/**
 * Where the HPA controller reads metrics (upstream pkg/controller/podautoscaler/metrics): resource usage from
 * metrics.k8s.io (PodMetrics), per-pod and per-object custom metrics from custom.metrics.k8s.io, and external metrics
 * from external.metrics.k8s.io. Values are milli-units (CPU in millicores, memory in milli-bytes), as upstream's
 * MilliValue(). The controller takes any MetricsClient, so tests inject a fake one.
 */
import type { CrossVersionObjectReference, MetricIdentifier } from 'kubernetes-types/autoscaling/v2.js';
import type { KubeObject } from '../../api/object.js';
import { parseQuantity, toMilli } from '../../api/quantity.js';
import { formatLabelSelector } from '../../api/labels.js';
import type { Client, ResourceType } from '../../client/types.js';
import { isNotFound } from '../../api/status.js';

/** One pod's metric: its value (milli-units), the end of its sample window and the window's length. */
export interface PodMetric {
  value: number;
  timestamp: Date;
  windowMs: number;
}

/** Metrics by pod name. */
export type PodMetricsInfo = Map<string, PodMetric>;

export interface MetricsClient {
  /**
   * Usage of `resource` per pod of `namespace` matching `selector` (a label selector string), summed over the pod's
   * containers, or over the one named `container`. A pod that lacks the resource in one of those containers is left
   * out (it counts as missing). Rejects with "no metrics returned from resource metrics API" when nothing came back.
   */
  getResourceMetric(resource: string, namespace: string, selector: string, container: string): Promise<{ metrics: PodMetricsInfo; timestamp: Date }>;
  /** A custom per-pod metric (custom.metrics.k8s.io) of the pods matching `selector`. */
  getRawMetric(metricName: string, namespace: string, selector: string, metricSelector: string): Promise<{ metrics: PodMetricsInfo; timestamp: Date }>;
  /** A custom metric describing one object (custom.metrics.k8s.io), in milli-units. */
  getObjectMetric(metricName: string, namespace: string, objectRef: CrossVersionObjectReference, metricSelector: string): Promise<{ value: number; timestamp: Date }>;
  /** The values of an external metric (external.metrics.k8s.io), in milli-units. */
  getExternalMetric(metricName: string, namespace: string, metricSelector: string): Promise<{ values: number[]; timestamp: Date }>;
}

/** A quantity string as milli-units (upstream MilliValue, rounded up). */
export function milliOf(q: string | number): number {
  return Number(toMilli(parseQuantity(String(q))));
}

/** A metric's label selector as a selector string ('' = everything). */
export function metricSelectorString(metric: MetricIdentifier | undefined): string {
  return metric?.selector ? formatLabelSelector(metric.selector).replace(/^<none>$/, '') : '';
}

/** `15s`, `1m30s`, `500ms` → milliseconds (metrics-server writes Go durations). */
export function parseGoDurationMs(s: string | undefined): number {
  if (!s) return 0;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  for (let m = re.exec(s); m; m = re.exec(s)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

interface PodMetricsObject extends KubeObject {
  timestamp?: string;
  window?: string;
  containers?: { name: string; usage?: Record<string, string> }[];
}

interface MetricValue {
  describedObject?: { kind?: string; name?: string };
  metricName?: string;
  metric?: { name?: string };
  timestamp?: string;
  windowSeconds?: number | null;
  value?: string;
}

const CUSTOM_GROUP = 'custom.metrics.k8s.io';
const EXTERNAL_GROUP = 'external.metrics.k8s.io';

const podMetricsType: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true };

/** Resource usage, per-pod, per-object and external metrics read through the API server's aggregated APIs. */
export class RestMetricsClient implements MetricsClient {
  /** `resourceFor` maps a described object's kind to its plural resource (the controller's RESTMapper). */
  constructor(
    private readonly client: Client,
    private readonly resourceFor: (ref: CrossVersionObjectReference) => Promise<ResourceType>,
  ) {}

  async getResourceMetric(resource: string, namespace: string, selector: string, container: string): Promise<{ metrics: PodMetricsInfo; timestamp: Date }> {
    const list = await this.client.list<PodMetricsObject>(podMetricsType, namespace, { labelSelector: selector });
    if (list.items.length === 0) throw new Error('no metrics returned from resource metrics API');
    const metrics: PodMetricsInfo = new Map();
    for (const m of list.items) {
      let sum = 0;
      let missing = false;
      let seen = false;
      for (const c of m.containers ?? []) {
        if (container && c.name !== container) continue;
        const usage = c.usage?.[resource];
        if (usage === undefined) {
          missing = true;
          break;
        }
        seen = true;
        sum += milliOf(usage);
      }
      if (missing || !seen) continue;
      metrics.set(m.metadata.name ?? '', { value: sum, timestamp: new Date(m.timestamp ?? 0), windowMs: parseGoDurationMs(m.window) });
    }
    return { metrics, timestamp: new Date(list.items[0]!.timestamp ?? 0) };
  }

  async getRawMetric(metricName: string, namespace: string, selector: string, metricSelector: string): Promise<{ metrics: PodMetricsInfo; timestamp: Date }> {
    const rt: ResourceType = { group: CUSTOM_GROUP, version: 'v1beta2', resource: 'pods', kind: 'MetricValueList', namespaced: true };
    const values = await this.customList(rt, namespace, '*', metricName, selector, metricSelector);
    if (values.length === 0) throw new Error('no metrics returned from custom metrics API');
    const metrics: PodMetricsInfo = new Map();
    for (const v of values) {
      // upstream: a value without windowSeconds is taken as metrics-server's default window (1 minute).
      const windowMs = v.windowSeconds === undefined || v.windowSeconds === null ? 60_000 : v.windowSeconds * 1000;
      metrics.set(v.describedObject?.name ?? '', { value: milliOf(v.value ?? '0'), timestamp: new Date(v.timestamp ?? 0), windowMs });
    }
    return { metrics, timestamp: new Date(values[0]!.timestamp ?? 0) };
  }

  async getObjectMetric(metricName: string, namespace: string, objectRef: CrossVersionObjectReference, metricSelector: string): Promise<{ value: number; timestamp: Date }> {
    let rt: ResourceType;
    let name = objectRef.name;
    if (objectRef.kind === 'Namespace' && !(objectRef.apiVersion ?? '').includes('/')) {
      // upstream: a Namespace's metric is root-scoped, /namespaces/<the HPA's namespace>/metrics/<metric> (the
      // reference cannot escape the HPA's namespace).
      rt = { group: CUSTOM_GROUP, version: 'v1beta2', resource: 'namespaces', kind: 'MetricValueList', namespaced: false };
      name = namespace;
    } else {
      const target = await this.resourceFor(objectRef).catch((err: unknown) => {
        throw new Error(`unable to fetch metrics from custom metrics API: ${(err as Error).message}`);
      });
      rt = { group: CUSTOM_GROUP, version: 'v1beta2', resource: target.group ? `${target.resource}.${target.group}` : target.resource, kind: 'MetricValueList', namespaced: target.namespaced };
    }
    const values = await this.customList(rt, namespace, name, metricName, '', metricSelector, objectRef.kind === 'Namespace' ? 'metrics' : undefined);
    if (values.length !== 1) {
      throw new Error(`unable to fetch metrics from custom metrics API: the custom metrics API server returned ${values.length} results when we asked for exactly one`);
    }
    return { value: milliOf(values[0]!.value ?? '0'), timestamp: new Date(values[0]!.timestamp ?? 0) };
  }

  async getExternalMetric(metricName: string, namespace: string, metricSelector: string): Promise<{ values: number[]; timestamp: Date }> {
    const rt: ResourceType = { group: EXTERNAL_GROUP, version: 'v1beta1', resource: metricName, kind: 'ExternalMetricValueList', namespaced: true };
    const list = await this.client.list<KubeObject & { value?: string; timestamp?: string }>(rt, namespace, { labelSelector: metricSelector }).catch((err: unknown) => {
      throw new Error(`unable to fetch metrics from external metrics API: ${(err as Error).message}`);
    });
    if (list.items.length === 0) throw new Error('no metrics returned from external metrics API');
    return { values: list.items.map((v) => milliOf(v.value ?? '0')), timestamp: new Date(list.items[0]!.timestamp ?? 0) };
  }

  /**
   * GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/RESOURCE/NAME/METRIC?labelSelector=&metricLabelSelector=
   * (NAME `*`: every object matching labelSelector). Errors are worded as upstream's custom metrics client: the API
   * server's own 404 (no APIService serves the group, or it is unavailable and left out of discovery) is "no custom
   * metrics API (custom.metrics.k8s.io) registered".
   */
  private async customList(rt: ResourceType, namespace: string, name: string, metricName: string, selector: string, metricSelector: string, prefix?: string): Promise<MetricValue[]> {
    // The client's get has no query string; the selectors ride in the subresource path's query (both transports
    // append an empty query to the path as it is).
    const q = new URLSearchParams();
    if (selector) q.set('labelSelector', selector);
    if (metricSelector) q.set('metricLabelSelector', metricSelector);
    const sub = (prefix ? `${prefix}/` : '') + encodeURIComponent(metricName) + (q.size ? `?${q}` : '');
    try {
      const list = (await this.client.get<KubeObject & { items?: MetricValue[] }>(rt, namespace, name, { subresource: sub })) ?? {};
      return list.items ?? [];
    } catch (err) {
      const apiServerNotFound = isNotFound(err) && (err as Error).message === 'the server could not find the requested resource';
      const why = apiServerNotFound ? `no custom metrics API (${CUSTOM_GROUP}) registered` : (err as Error).message;
      throw new Error(`unable to fetch metrics from custom metrics API: ${why}`);
    }
  }
}
