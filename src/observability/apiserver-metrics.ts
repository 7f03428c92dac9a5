/**
 * kube-apiserver's request metrics (staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go), same names, labels,
 * verbs, scopes and buckets, so dashboards and alerts written for Kubernetes work:
 *   apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}
 *   apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}
 *   apiserver_request_sli_duration_seconds{verb,group,version,resource,subresource,scope,component}
 *     (upstream leaves out webhook and priority-and-fairness wait; skiff has neither in its timing, so it is the
 *     request's duration: what kube-prometheus' API SLO rules and KubeAPIErrorBudgetBurn alerts read)
 *   apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}   open WATCH and CONNECT
 *   apiserver_storage_objects{resource}
 * The front door resolves one RequestCell per request (cached by label values) and records code and duration on it.
 */
import { LabeledCounter, LabeledGauge, LabeledHistogram, type CounterCell, type GaugeCell, type HistogramCell } from './labeled-metrics.js';
import { controlPlaneRegistry } from './registries.js';

/** metrics.go requestLatencies buckets (STABLE). */
export const REQUEST_DURATION_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

const requestTotal = new LabeledCounter(
  'apiserver_request_total',
  'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
  ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
).register(controlPlaneRegistry());

const requestDuration = new LabeledHistogram(
  'apiserver_request_duration_seconds',
  'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
  ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
  REQUEST_DURATION_BUCKETS,
).register(controlPlaneRegistry());

/** metrics.go requestSliLatencies buckets. */
export const REQUEST_SLI_BUCKETS = [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

const requestSliDuration = new LabeledHistogram(
  'apiserver_request_sli_duration_seconds',
  'Response latency distribution (not counting webhook duration and priority & fairness queue wait times) in seconds for each verb, group, version, resource, subresource, scope and component.',
  ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
  REQUEST_SLI_BUCKETS,
).register(controlPlaneRegistry());

const longRunning = new LabeledGauge(
  'apiserver_longrunning_requests',
  'Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.',
  ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
).register(controlPlaneRegistry());

/** What the front door knows of a resource request (request-info.ts's fields that the labels come from). */
export interface RequestLabelInput {
  method: string;
  /** The Kubernetes verb of the request info (get, list, watch, create, ...). */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The request's Content-Type (an apply patch is reported as APPLY). */
  contentType: string | undefined;
  /** The dryRun query values. */
  dryRun: string[];
}

/** Subresources that metrics.go reports as CONNECT (validConnectRequests). */
const CONNECT_SUBRESOURCES = new Set(['log', 'exec', 'portforward', 'attach', 'proxy']);
const REPORTED_METHODS = new Set(['APPLY', 'CONNECT', 'DELETE', 'GET', 'LIST', 'PATCH', 'POST', 'PUT', 'WATCH']);

/** CleanScope: a named object (or any create) is `resource`, else `namespace` within one, else `cluster`. */
export function requestScope(i: Pick<RequestLabelInput, 'name' | 'verb' | 'namespace'>): string {
  if (i.name !== '' || i.verb === 'create') return 'resource';
  return i.namespace !== '' ? 'namespace' : 'cluster';
}

/**
 * The verb label (CanonicalVerb + cleanVerb): the HTTP method, GET split into GET and LIST by scope, WATCH for watches,
 * APPLY for apply patches, CONNECT for the streaming subresources; anything else is `other`. A DELETE of a collection
 * stays DELETE, as upstream reports it.
 */
export function reportedVerb(i: RequestLabelInput, scope: string): string {
  let verb = i.method.toUpperCase();
  if (verb === 'HEAD') verb = 'GET';
  if (verb === 'GET' && scope !== 'resource') verb = 'LIST';
  if (i.verb === 'watch') verb = 'WATCH';
  if (verb === 'PATCH' && i.contentType?.split(';')[0]?.trim() === 'application/apply-patch+yaml') verb = 'APPLY';
  if (i.subresource !== '' && CONNECT_SUBRESOURCES.has(i.subresource)) verb = 'CONNECT';
  return REPORTED_METHODS.has(verb) ? verb : 'other';
}

/** cleanDryRun: '' without dryRun, `All` for dryRun=All, `invalid` for anything else. */
export function dryRunLabel(values: string[]): string {
  if (values.length === 0) return '';
  return values.every((v) => v === 'All') ? 'All' : 'invalid';
}

/** What finish() needs of a response (node's ServerResponse, the in-process transport's). */
export interface FinishingResponse {
  statusCode: number;
  writableEnded: boolean;
  destroyed: boolean;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** The cells of one label combination: the duration histogram and a counter per response code. */
export class RequestCell {
  private readonly codes = new Map<number, CounterCell>();
  private readonly duration: HistogramCell;
  private readonly sli: HistogramCell;
  /** For watches and streams (WATCH, CONNECT): how many are open (RecordLongRunning). */
  private readonly open: GaugeCell | undefined;

  constructor(private readonly labels: string[]) {
    this.duration = requestDuration.child(...labels);
    // The SLI histogram and the long-running gauge have every label but dry_run.
    const withoutDryRun = [labels[0]!, ...labels.slice(2)];
    this.sli = requestSliDuration.child(...withoutDryRun);
    if (labels[0] === 'WATCH' || labels[0] === 'CONNECT') this.open = longRunning.child(...withoutDryRun);
  }

  /** A request with these labels begins (requestCell calls it). */
  begin(): void {
    this.open?.inc();
  }

  /**
   * The handler returned: records the request now, or, for a watch or stream still open (its handler returns once it
   * has started), when the response finishes or closes, so its duration is its life, as upstream's.
   */
  finish(res: FinishingResponse, startedMs: number): void {
    if (!this.open || res.writableEnded || res.destroyed) {
      this.record(res.statusCode, startedMs);
      return;
    }
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      this.record(res.statusCode, startedMs);
    };
    res.once('finish', end);
    res.once('close', end);
  }

  /** Records one finished request: its response code and the time since `startedMs` (performance.now()). */
  record(code: number, startedMs: number): void {
    let counter = this.codes.get(code);
    if (!counter) {
      counter = requestTotal.child(...this.labels, String(code));
      this.codes.set(code, counter);
    }
    counter.inc();
    this.open?.dec();
    const seconds = (performance.now() - startedMs) / 1000;
    this.duration.observe(seconds);
    this.sli.observe(seconds);
  }
}

const cells = new Map<string, RequestCell>();
/** The cells of one served resource (its definition object), by the labels that vary between its requests. */
const cellsByResource = new WeakMap<object, Map<string, RequestCell>>();
const NO_DRY_RUN: string[] = [];

/**
 * The cell for a request's labels, with the request counted as begun (record() ends it). Only for requests the server routes to a served resource (and a subresource it
 * has): label values must come from a closed set, or any authorized client could mint new series at will.
 * `resource`: the served definition the request was routed to, when there is one; its cells are found from it
 * without building the whole label key (every request passes here).
 */
export function requestCell(i: RequestLabelInput, resource?: object): RequestCell {
  const scope = requestScope(i);
  const verb = reportedVerb(i, scope);
  const dryRun = i.dryRun.length === 0 ? '' : dryRunLabel(i.dryRun);
  let byLabels: Map<string, RequestCell> | undefined;
  let key: string;
  if (resource) {
    byLabels = cellsByResource.get(resource);
    if (!byLabels) cellsByResource.set(resource, (byLabels = new Map()));
    key = `${verb}|${dryRun}|${i.subresource}|${scope}`;
  } else {
    byLabels = cells;
    key = `${verb}|${dryRun}|${i.apiGroup}|${i.apiVersion}|${i.resource}|${i.subresource}|${scope}`;
  }
  let cell = byLabels.get(key);
  if (!cell) {
    const full = `${verb}|${dryRun}|${i.apiGroup}|${i.apiVersion}|${i.resource}|${i.subresource}|${scope}`;
    cell = cells.get(full);
    if (!cell) cells.set(full, (cell = new RequestCell([verb, dryRun, i.apiGroup, i.apiVersion, i.resource, i.subresource, scope, 'apiserver'])));
    byLabels.set(key, cell);
  }
  cell.begin();
  return cell;
}

/** The dryRun values of a query (none, without allocating, for nearly every request). */
export function dryRunValues(query: URLSearchParams): string[] {
  return query.has('dryRun') ? query.getAll('dryRun') : NO_DRY_RUN;
}

/** Where apiserver_storage_objects comes from: a watch cache's `/registry/<group>/<resource>/` prefixes and counts. */
export type StorageObjectCounts = () => Iterable<[prefix: string, count: number]>;

const storageSources = new Set<StorageObjectCounts>();

new LabeledGauge('apiserver_storage_objects', 'Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.', ['resource'], () => {
  // Servers of one cluster in one process (tests) see the same objects: the largest count wins.
  const out = new Map<string, number>();
  for (const source of storageSources) {
    for (const [prefix, count] of source()) {
      // Address reservations (/registry/ranges/, allocation/) are bookkeeping, not API objects.
      const resource = prefix.startsWith('/registry/ranges/') ? undefined : resourceOfPrefix(prefix);
      if (resource) out.set(resource, Math.max(out.get(resource) ?? 0, count));
    }
  }
  return [...out].map(([resource, count]) => [[resource], count] as [string[], number]);
}).register(controlPlaneRegistry());

/** Counts objects per resource at every scrape; the returned function unregisters (server close). */
export function registerStorageObjects(source: StorageObjectCounts): () => void {
  storageSources.add(source);
  return () => storageSources.delete(source);
}

/**
 * The upstream resource label of a store key or prefix, `/registry/<group>/<resource>/...`: `pods` for the core group,
 * `deployments.apps` otherwise (schema.GroupResource.String()); undefined for keys outside that layout.
 */
export function resourceOfPrefix(key: string): string | undefined {
  if (!key.startsWith('/registry/')) return undefined;
  const slash1 = key.indexOf('/', 10);
  if (slash1 < 0) return undefined;
  const slash2 = key.indexOf('/', slash1 + 1);
  const group = key.slice(10, slash1);
  const resource = key.slice(slash1 + 1, slash2 < 0 ? undefined : slash2);
  if (resource === '') return undefined;
  return group === 'core' || group === '' ? resource : `${resource}.${group}`;
}
