/**
 * Where the HPA controller reads metrics (upstream pkg/controller/podautoscaler/metrics): resource usage from
 * metrics.k8s.io (PodMetrics), per-pod and per-object custom metrics from custom.metrics.k8s.io, and external metrics
 * from external.metrics.k8s.io. Values are milli-units (CPU in millicores, memory in milli-bytes), as upstream's
 * MilliValue(). The controller takes any MetricsClient, so tests inject a fake one.
 *
 * custom.metrics.k8s.io is spoken in the version the adapter serves, v1beta2 or v1beta1, as upstream's custom metrics
 * client picks it (k8s.io/metrics custom_metrics/discovery.go, re-discovered every sync period): the group's discovery
 * document (`GET /apis/custom.metrics.k8s.io`) names the served versions, and its preferred version is taken when this
 * client speaks it, else the first one it speaks. A client without discovery asks v1beta2 first and takes the API
 * server's own 404 (no APIService serves that version) as the sign to ask v1beta1. Either way the version found is used
 * until it is not found or CUSTOM_VERSION_TTL_MS passes. The two versions' MetricValueList differ only in how the
 * metric is named (`metricName` vs `metric.name`), which is not read.
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
/** custom.metrics.k8s.io versions this client speaks, preferred first (upstream's metricVersionsToGV order). */
export const CUSTOM_METRICS_VERSIONS = ['v1beta2', 'v1beta1'] as const;
/** How long the version that answered is kept before v1beta2 is tried again (upstream re-discovers every 15 s resync). */
export const CUSTOM_VERSION_TTL_MS = 60_000;
const API_SERVER_NOT_FOUND = 'the server could not find the requested resource';
const EXTERNAL_GROUP = 'external.metrics.k8s.io';

const podMetricsType: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true };

/** Resource usage, per-pod, per-object and external metrics read through the API server's aggregated APIs. */
export class RestMetricsClient implements MetricsClient {
  /** The custom.metrics.k8s.io version that answered last, and until when it is trusted (epoch ms). */
  private customVersion: { version: string; until: number } | undefined;

  /** `resourceFor` maps a described object's kind to its plural resource (the controller's RESTMapper). */
  constructor(
    private readonly client: Client,
    private readonly resourceFor: (ref: CrossVersionObjectReference) => Promise<ResourceType>,
    private readonly now: () => number = Date.now,
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
    const rt: ResourceType = { group: CUSTOM_GROUP, version: '', resource: 'pods', kind: 'MetricValueList', namespaced: true };
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
      rt = { group: CUSTOM_GROUP, version: '', resource: 'namespaces', kind: 'MetricValueList', namespaced: false };
      name = namespace;
    } else {
      const target = await this.resourceFor(objectRef).catch((err: unknown) => {
        throw new Error(`unable to fetch metrics from custom metrics API: ${(err as Error).message}`);
      });
      rt = { group: CUSTOM_GROUP, version: '', resource: target.group ? `${target.resource}.${target.group}` : target.resource, kind: 'MetricValueList', namespaced: target.namespaced };
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
   * GET /apis/custom.metrics.k8s.io/VERSION/namespaces/NS/RESOURCE/NAME/METRIC?labelSelector=&metricLabelSelector=
   * (NAME `*`: every object matching labelSelector; VERSION v1beta2 or v1beta1, see the header). Errors are worded as
   * upstream's custom metrics client: the API server's own 404 for every version (no APIService serves the group, or
   * it is unavailable and left out of discovery) is "no custom metrics API (custom.metrics.k8s.io) registered".
   */
  private async customList(rt: ResourceType, namespace: string, name: string, metricName: string, selector: string, metricSelector: string, prefix?: string): Promise<MetricValue[]> {
    // The client's get has no query string; the selectors ride in the subresource path's query (both transports
    // append an empty query to the path as it is).
    const q = new URLSearchParams();
    if (selector) q.set('labelSelector', selector);
    if (metricSelector) q.set('metricLabelSelector', metricSelector);
    const sub = (prefix ? `${prefix}/` : '') + encodeURIComponent(metricName) + (q.size ? `?${q}` : '');
    let cached = this.customVersion !== undefined && this.customVersion.until > this.now() ? this.customVersion.version : undefined;
    const discovery = (this.client as { discovery?: (path: string) => Promise<unknown> }).discovery;
    if (cached === undefined && typeof discovery === 'function') {
      cached = await this.discoverCustomVersion(discovery.bind(this.client));
      this.customVersion = { version: cached, until: this.now() + CUSTOM_VERSION_TTL_MS };
    }
    const versions = cached === undefined ? [...CUSTOM_METRICS_VERSIONS] : [cached, ...CUSTOM_METRICS_VERSIONS.filter((v) => v !== cached)];
    for (const version of versions) {
      try {
        const list = (await this.client.get<KubeObject & { items?: MetricValue[] }>({ ...rt, version }, namespace, name, { subresource: sub })) ?? {};
        if (cached !== version) this.customVersion = { version, until: this.now() + CUSTOM_VERSION_TTL_MS };
        return list.items ?? [];
      } catch (err) {
        const apiServerNotFound = isNotFound(err) && (err as Error).message === API_SERVER_NOT_FOUND;
        if (apiServerNotFound) continue;
        throw new Error(`unable to fetch metrics from custom metrics API: ${(err as Error).message}`);
      }
    }
    this.customVersion = undefined;
    throw new Error(`unable to fetch metrics from custom metrics API: no custom metrics API (${CUSTOM_GROUP}) registered`);
  }

  /** The version upstream's apiVersionsFromDiscovery.chooseVersion takes from the group's discovery document. */
  private async discoverCustomVersion(discovery: (path: string) => Promise<unknown>): Promise<string> {
    let group: { preferredVersion?: { version?: string }; versions?: { version?: string }[] };
    try {
      group = ((await discovery(`/apis/${CUSTOM_GROUP}`)) ?? {}) as typeof group;
    } catch (err) {
      const why = isNotFound(err) ? `no custom metrics API (${CUSTOM_GROUP}) registered` : (err as Error).message;
      throw new Error(`unable to fetch metrics from custom metrics API: ${why}`);
    }
    const known = (v: string | undefined): v is string => (CUSTOM_METRICS_VERSIONS as readonly string[]).includes(v ?? '');
    const preferred = group.preferredVersion?.version;
    const chosen = known(preferred) ? preferred : group.versions?.map((v) => v.version).find(known);
    if (chosen === undefined) throw new Error('unable to fetch metrics from custom metrics API: no known available metric versions found');
    return chosen;
  }
}
