/**
 * What an object counts against a ResourceQuota (k8s.io/kubernetes/pkg/quota/v1/evaluator/core): its usage by
 * resource name, which quota names each kind of object is measured by, and whether a quota's scopes select it.
 * Shared by the ResourceQuota admission plugin (charging a write) and the quota controller (recounting a namespace);
 * pure, no I/O.
 */
import type { Pod, PodSpec, ResourceQuota, Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from './object.js';
import { addQuantities, compareQuantities, formatQuantity, tryParseQuantity, type Quantity } from './quantity.js';

/** A kind of object: the resource and group it is served as. */
export interface QuotaTarget {
  group: string;
  plural: string;
}

export type Usage = Map<string, Quantity>;

const ONE: Quantity = { nanos: 1_000_000_000n, format: 'DecimalSI' };

/** The names kube-apiserver tracks without the `count/` form (quota's legacy object counts). */
const LEGACY_COUNTS = new Set(['pods', 'services', 'persistentvolumeclaims', 'configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas']);

/** `count/deployments.apps`, `count/pods`. */
export function countName(target: QuotaTarget): string {
  return target.group ? `count/${target.plural}.${target.group}` : `count/${target.plural}`;
}

const POD_COMPUTE = new Set(['cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage']);
const STORAGE_CLASS_NAME = /^[^/]+\.storageclass\.storage\.k8s\.io\/(requests\.storage|persistentvolumeclaims)$/;

/** True when objects of `target` are measured by the quota resource `name`. */
export function tracks(target: QuotaTarget, name: string): boolean {
  if (name === countName(target)) return true;
  if (target.group === '' && LEGACY_COUNTS.has(target.plural) && name === target.plural) return true;
  if (target.group !== '') return false;
  switch (target.plural) {
    case 'pods':
      return POD_COMPUTE.has(name) || name.startsWith('hugepages-') || name.startsWith('requests.hugepages-') || (name.startsWith('requests.') && name.includes('/'));
    case 'services':
      return name === 'services.nodeports' || name === 'services.loadbalancers';
    case 'persistentvolumeclaims':
      return name === 'requests.storage' || STORAGE_CLASS_NAME.test(name);
    default:
      return false;
  }
}

/** Quantity.Add: a zero takes the other operand's format (so 0 + 512Mi prints as 512Mi). */
export function sumQuantities(a: Quantity, b: Quantity): Quantity {
  return a.nanos === 0n ? { nanos: b.nanos, format: b.format } : addQuantities(a, b);
}

function add(usage: Usage, name: string, q: Quantity): void {
  const cur = usage.get(name);
  usage.set(name, cur ? sumQuantities(cur, q) : q);
}

function parse(v: unknown): Quantity | undefined {
  return v === undefined || v === null ? undefined : tryParseQuantity(String(v));
}

/** Sum over containers, raised to any init container's own (resourcehelper.PodRequests), plus the pod overhead. */
function podResources(spec: PodSpec, field: 'requests' | 'limits'): Usage {
  const total: Usage = new Map();
  for (const c of spec.containers ?? []) for (const [k, v] of Object.entries(c.resources?.[field] ?? {})) {
    const q = parse(v);
    if (q) add(total, k, q);
  }
  for (const c of spec.initContainers ?? []) for (const [k, v] of Object.entries(c.resources?.[field] ?? {})) {
    const q = parse(v);
    if (q && (!total.has(k) || compareQuantities(q, total.get(k)!) > 0)) total.set(k, q);
  }
  for (const [k, v] of Object.entries(spec.overhead ?? {})) {
    const q = parse(v);
    if (q && total.has(k)) add(total, k, q);
  }
  return total;
}

/** podComputeUsageHelper: the quota names a set of requests and limits counts in. */
function computeUsage(requests: Usage, limits: Usage): Usage {
  const usage: Usage = new Map([['pods', ONE], ['count/pods', ONE]]);
  for (const [k, q] of requests) {
    if (k === 'cpu' || k === 'memory' || k === 'ephemeral-storage') {
      usage.set(k, q);
      usage.set(`requests.${k}`, q);
    } else if (k.startsWith('hugepages-')) {
      usage.set(`requests.${k}`, q);
      usage.set(k, q);
    } else if (k.includes('/')) usage.set(`requests.${k}`, q);
  }
  for (const [k, q] of limits) if (k === 'cpu' || k === 'memory' || k === 'ephemeral-storage') usage.set(`limits.${k}`, q);
  return usage;
}

/**
 * QuotaV1Pod: terminal pods count nothing, nor pods stuck terminating past their grace period (a lost node must not
 * stop an application from scaling up).
 */
export function podCountsForQuota(pod: Pod, now: Date): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const del = pod.metadata?.deletionTimestamp;
  const grace = pod.metadata?.deletionGracePeriodSeconds;
  if (del && grace !== undefined && grace !== null && now.getTime() > Date.parse(del) + grace * 1000) return false;
  return true;
}

/** Everything an object counts in (names it does not count in are absent). */
export function objectUsage(target: QuotaTarget, obj: KubeObject, now: Date): Usage {
  const usage: Usage = new Map([[countName(target), ONE]]);
  if (target.group === '' && LEGACY_COUNTS.has(target.plural)) usage.set(target.plural, ONE);
  if (target.group !== '') return usage;
  if (target.plural === 'pods') {
    const pod = obj as unknown as Pod;
    if (!podCountsForQuota(pod, now)) return new Map();
    const spec = pod.spec ?? ({ containers: [] } as PodSpec);
    return computeUsage(podResources(spec, 'requests'), podResources(spec, 'limits'));
  }
  if (target.plural === 'services') {
    const spec = (obj as unknown as Service).spec ?? {};
    const ports = spec.ports ?? [];
    const n = (count: number): Quantity => ({ nanos: BigInt(count) * 1_000_000_000n, format: 'DecimalSI' });
    if (spec.type === 'NodePort') usage.set('services.nodeports', n(ports.length));
    if (spec.type === 'LoadBalancer') {
      usage.set('services.nodeports', n(spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length));
      usage.set('services.loadbalancers', ONE);
    }
    return usage;
  }
  if (target.plural === 'persistentvolumeclaims') {
    const pvc = obj as { spec?: { storageClassName?: string; resources?: { requests?: Record<string, string> } }; metadata: { annotations?: Record<string, string> } };
    const storage = parse(pvc.spec?.resources?.requests?.storage);
    const sc = pvc.spec?.storageClassName ?? pvc.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'];
    if (storage) usage.set('requests.storage', storage);
    if (sc) {
      usage.set(`${sc}.storageclass.storage.k8s.io/persistentvolumeclaims`, ONE);
      if (storage) usage.set(`${sc}.storageclass.storage.k8s.io/requests.storage`, storage);
    }
  }
  return usage;
}

/** pkg/apis/core/helper/qos: BestEffort when no container requests or limits cpu or memory. */
export function isBestEffort(spec: PodSpec | undefined): boolean {
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const field of ['requests', 'limits'] as const) {
      for (const [k, v] of Object.entries(c.resources?.[field] ?? {})) {
        if ((k === 'cpu' || k === 'memory') && (parse(v)?.nanos ?? 0n) > 0n) return false;
      }
    }
  }
  return true;
}

interface ScopeSelector {
  scopeName: string;
  operator: string;
  values?: string[];
}

/** A quota's scopes: spec.scopes (as Exists) and spec.scopeSelector's expressions. */
export function quotaScopes(quota: ResourceQuota): ScopeSelector[] {
  return [...(quota.spec?.scopes ?? []).map((s) => ({ scopeName: s, operator: 'Exists' })), ...((quota.spec?.scopeSelector?.matchExpressions ?? []) as ScopeSelector[])];
}

function podMatchesScope(scope: ScopeSelector, pod: Pod): boolean {
  const spec = pod.spec;
  switch (scope.scopeName) {
    case 'Terminating':
      return spec?.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null && spec.activeDeadlineSeconds >= 0;
    case 'NotTerminating':
      return !(spec?.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null && spec.activeDeadlineSeconds >= 0);
    case 'BestEffort':
      return isBestEffort(spec);
    case 'NotBestEffort':
      return !isBestEffort(spec);
    case 'PriorityClass': {
      const pc = spec?.priorityClassName ?? '';
      if (pc === '') return scope.operator === 'DoesNotExist' || scope.operator === 'NotIn';
      if (scope.operator === 'Exists') return true;
      if (scope.operator === 'DoesNotExist') return false;
      if (scope.operator === 'In') return (scope.values ?? []).includes(pc);
      if (scope.operator === 'NotIn') return !(scope.values ?? []).includes(pc);
      return false;
    }
    case 'CrossNamespacePodAffinity': {
      const terms = [
        ...(spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(spec?.affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => w.podAffinityTerm),
        ...(spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => w.podAffinityTerm),
      ];
      return terms.some((t) => (t.namespaces?.length ?? 0) > 0 || t.namespaceSelector !== undefined);
    }
    default:
      return false;
  }
}

/** True when every scope of the quota selects the object; only pods have scopes, other objects match unscoped quotas. */
export function quotaSelects(quota: ResourceQuota, target: QuotaTarget, obj: KubeObject): boolean {
  const scopes = quotaScopes(quota);
  if (scopes.length === 0) return true;
  if (!(target.group === '' && target.plural === 'pods')) return false;
  return scopes.every((s) => podMatchesScope(s, obj as unknown as Pod));
}

/** The names of `names` (a quota's hard resources) that objects of `target` count in. */
export function matchingResources(target: QuotaTarget, names: Iterable<string>): string[] {
  return [...names].filter((n) => tracks(target, n)).sort();
}

const VALIDATED = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

/**
 * The pod evaluator's Constraints: when a quota tracks cpu or memory, every container must state it ("this was a
 * mistake", upstream says, kept for compatibility). `must specify limits.cpu for: app,side; requests.memory for: app`.
 */
export function podConstraintsError(pod: Pod, required: string[]): string | undefined {
  const requiredSet = required.filter((r) => VALIDATED.has(r));
  if (requiredSet.length === 0) return undefined;
  const missing = new Map<string, Set<string>>();
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    const requests: Usage = new Map(Object.entries(c.resources?.requests ?? {}).flatMap(([k, v]) => (parse(v) ? [[k, parse(v)!]] : [])));
    const limits: Usage = new Map(Object.entries(c.resources?.limits ?? {}).flatMap(([k, v]) => (parse(v) ? [[k, parse(v)!]] : [])));
    const has = computeUsage(requests, limits);
    for (const r of requiredSet) {
      if (has.has(r)) continue;
      const set = missing.get(r) ?? new Set<string>();
      set.add(c.name);
      missing.set(r, set);
    }
  }
  if (missing.size === 0) return undefined;
  const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
  return `must specify ${parts.join('; ')}`;
}

/** upstream prettyPrint: `limits.cpu=1,pods=2`, names sorted. */
export function formatUsage(list: Usage | Record<string, string | undefined>): string {
  const entries: [string, string][] =
    list instanceof Map ? [...list].map(([k, q]) => [k, formatQuantity(q)]) : Object.entries(list).map(([k, v]) => [k, v === undefined ? '0' : (parse(v) ? formatQuantity(parse(v)!) : v)]);
  return entries
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Usage as a ResourceList of canonical quantities. */
export function usageToList(usage: Usage): Record<string, string> {
  return Object.fromEntries([...usage].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, q]) => [k, formatQuantity(q)]));
}

export function listToUsage(list: Record<string, unknown> | undefined): Usage {
  const usage: Usage = new Map();
  for (const [k, v] of Object.entries(list ?? {})) {
    const q = parse(v);
    if (q) usage.set(k, q);
  }
  return usage;
}
