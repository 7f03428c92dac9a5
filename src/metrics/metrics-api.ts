/**
 * metrics.k8s.io/v1beta1 (NodeMetrics, PodMetrics) served from the scraper's samples, as metrics-server's API
 * (pkg/api/node.go, pod.go): get and list, label selectors (and field selectors on pods), Tables for `kubectl get`.
 * Its APIService, v1beta1.metrics.k8s.io, is a Local one registered by the aggregator (../apiserver/aggregator/).
 */
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { methodNotAllowed, notFound, pathNotFound } from '../api/status.js';
import type { DelegatedGroup, DelegatedRequest } from '../apiserver/delegated-groups.js';
import { sendJson } from '../apiserver/handlers/respond.js';
import { negotiateTable, parseAccept, TABLE_CONTENT_TYPE } from '../apiserver/negotiation.js';
import type { MetricsStore, Usage } from './metrics-store.js';
import { formatBytes, formatDuration, formatNanoCores } from './quantities.js';

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;

export interface MetricsApiOptions {
  store: Pick<MetricsStore, 'node' | 'pod'>;
  /** Nodes by label selector (a bad selector: the API's 400). */
  listNodes(labelSelector: string | undefined): Promise<Node[]>;
  /** Pods of a namespace ('' for all) by label and field selector. */
  listPods(namespace: string, labelSelector: string | undefined, fieldSelector: string | undefined): Promise<Pod[]>;
  now?: () => Date;
}

type Obj = Record<string, unknown>;

function usageOf(u: Pick<Usage, 'cpuNanoCores' | 'memoryBytes'>): { cpu: string; memory: string } {
  return { cpu: formatNanoCores(u.cpuNanoCores), memory: formatBytes(u.memoryBytes) };
}

export class MetricsApi {
  readonly groups: DelegatedGroup[];
  private readonly now: () => Date;

  constructor(private readonly o: MetricsApiOptions) {
    this.now = o.now ?? (() => new Date());
    this.groups = [
      {
        group: METRICS_GROUP,
        version: METRICS_VERSION,
        resources: [
          { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
          { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
        ],
        serve: (r) => this.serveMetrics(r),
      },
    ];
  }

  private async serveMetrics(r: DelegatedRequest): Promise<void> {
    const { info, query } = r;
    if (info.subresource || info.parts.length > 2) throw pathNotFound();
    if (info.verb !== 'get' && info.verb !== 'list') throw methodNotAllowed();
    const labelSelector = query.get('labelSelector') || undefined;
    if (info.resource === 'nodes') {
      if (info.namespace) throw pathNotFound();
      if (info.name) {
        const node = (await this.o.listNodes(undefined)).find((n) => n.metadata?.name === info.name);
        const m = node && this.nodeMetrics(node);
        if (!m) throw notFound({ group: METRICS_GROUP, resource: 'nodemetrics', name: info.name });
        return this.send(r, 'NodeMetrics', [m]);
      }
      const items = (await this.o.listNodes(labelSelector)).map((n) => this.nodeMetrics(n)).filter((m): m is Obj => m !== undefined);
      return this.send(r, 'NodeMetricsList', items);
    }
    if (info.resource === 'pods') {
      if (info.name) {
        const pod = (await this.o.listPods(info.namespace, undefined, `metadata.name=${info.name}`))[0];
        const m = pod && this.podMetrics(pod);
        if (!m) throw notFound({ group: METRICS_GROUP, resource: 'podmetrics', name: `${info.namespace}/${info.name}` });
        return this.send(r, 'PodMetrics', [m]);
      }
      const pods = await this.o.listPods(info.namespace, labelSelector, query.get('fieldSelector') || undefined);
      return this.send(r, 'PodMetricsList', pods.map((p) => this.podMetrics(p)).filter((m): m is Obj => m !== undefined));
    }
    throw pathNotFound();
  }

  /** metrics-server's NodeMetrics: the node's labels, creationTimestamp now, the samples' time and window. */
  nodeMetrics(node: Node): Obj | undefined {
    const name = node.metadata?.name ?? '';
    const u = this.o.store.node(name);
    if (!u) return undefined;
    return {
      kind: 'NodeMetrics',
      apiVersion: METRICS_API_VERSION,
      metadata: { name, creationTimestamp: this.nowText(), ...(node.metadata?.labels ? { labels: node.metadata.labels } : {}) },
      timestamp: new Date(u.timestamp).toISOString().replace(/\.\d+Z$/, 'Z'),
      window: formatDuration(u.windowMs),
      usage: usageOf(u),
    };
  }

  podMetrics(pod: Pod): Obj | undefined {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const u = this.o.store.pod(namespace, name);
    if (!u) return undefined;
    return {
      kind: 'PodMetrics',
      apiVersion: METRICS_API_VERSION,
      metadata: { name, namespace, creationTimestamp: this.nowText(), ...(pod.metadata?.labels ? { labels: pod.metadata.labels } : {}) },
      timestamp: new Date(u.timestamp).toISOString().replace(/\.\d+Z$/, 'Z'),
      window: formatDuration(u.windowMs),
      containers: u.containers.map((c) => ({ name: c.name, usage: usageOf(c) })),
    };
  }

  private nowText(): string {
    return this.now().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  /** One object (kind without List) or a list, as JSON or as the Table kubectl asks for. */
  private send(r: DelegatedRequest, kind: string, items: Obj[], apiVersion = METRICS_API_VERSION): void {
    const single = !kind.endsWith('List');
    const tableVersion = negotiateTable(parseAccept(r.req.headers.accept));
    if (tableVersion) {
      const table = tableOf(kind, items);
      return sendJson(r.res, 200, JSON.stringify({ ...table, apiVersion: `meta.k8s.io/${tableVersion}` }), TABLE_CONTENT_TYPE.replace('v=v1', `v=${tableVersion}`));
    }
    if (single) return sendJson(r.res, 200, JSON.stringify(items[0]));
    return sendJson(r.res, 200, JSON.stringify({ kind, apiVersion, metadata: {}, items }));
  }
}

/** Server-side Table of metrics (metrics-server's printers: Name, CPU, Memory, Window). */
function tableOf(kind: string, items: Obj[]): Obj {
  const base = kind.replace(/List$/, '');
  let columns: Array<{ name: string; type: string; format: string; description: string; priority: number }>;
  let cells: (o: Obj) => unknown[];
  {
    columns = [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
      { name: 'CPU', type: 'string', format: '', description: 'CPU usage', priority: 0 },
      { name: 'Memory', type: 'string', format: '', description: 'Memory usage', priority: 0 },
      { name: 'Window', type: 'string', format: '', description: 'Interval the usage was measured over', priority: 0 },
    ];
    cells = (o) => {
      const usages = o.usage ? [o.usage as Obj] : ((o.containers as Obj[]) ?? []).map((c) => c.usage as Obj);
      const cpu = usages.reduce((s, u) => s + parseNano(u.cpu as string), 0);
      const mem = usages.reduce((s, u) => s + parseBytes(u.memory as string), 0);
      return [(o.metadata as Obj).name, formatNanoCores(cpu), formatBytes(mem), o.window];
    };
  }
  return {
    kind: 'Table',
    metadata: {},
    columnDefinitions: columns,
    rows: items.map((o) => ({ cells: cells(o), object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } })),
  };
}

function parseNano(q: string): number {
  return q.endsWith('n') ? Number(q.slice(0, -1)) : Number(q) * 1e9;
}

function parseBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  if (!m) return 0;
  const pow = m[2] ? ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'].indexOf(m[2]) + 1 : 0;
  return Number(m[1]) * 1024 ** pow;
}

/** kubectl's HumanDuration, short form, for the Age column. */
function age(ts: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
