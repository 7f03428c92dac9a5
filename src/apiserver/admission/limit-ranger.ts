/**
 * LimitRanger admission (plugin/pkg/admission/limitranger): the LimitRanges of a namespace
 *
 * - default the resources of a new pod's containers (mutating): a container without a limit (request) for a resource
 *   gets the Container item's `default` (`defaultRequest`), and the pod is annotated
 *   `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request for container app; cpu limit for ...`;
 * - refuse pods whose containers, or whose sum, break a Container or Pod item's min, max or maxLimitRequestRatio, and
 *   PersistentVolumeClaims whose storage request breaks a PersistentVolumeClaim item (validating), in upstream's words:
 *   `pods "x" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, ...]`.
 *
 * Pod updates are not checked (containers and their resources cannot change), as upstream.
 * A Container item's defaults are completed as the LimitRange API defaults them (SetDefaults_LimitRangeItem): a
 * missing `default` is the `max`, a missing `defaultRequest` the `default`, else the `min`.
 */
import type { Container, LimitRangeItem, LimitRangeSpec, PodSpec } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { addQuantities, compareQuantities, formatQuantity, parseQuantity, tryParseQuantity, type Quantity } from '../../api/quantity.js';
import { forbidden, StatusError } from '../../api/status.js';
import { computeQosClass } from '../registry/pod-spec.js';
import type { AdmissionAttributes, AdmissionContext, MutatingAdmission, ValidatingAdmission } from './types.js';
import { isCoreResource } from './types.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

type ResourceList = Record<string, string>;

function limitRangesOf(ctx: AdmissionContext, namespace: string): LimitRangeItem[] {
  const items: LimitRangeItem[] = [];
  for (const lr of ctx.list('', 'limitranges', namespace)) {
    if (lr.metadata.namespace === namespace) items.push(...(((lr as { spec?: LimitRangeSpec }).spec?.limits ?? []) as LimitRangeItem[]));
  }
  return items;
}

/** A Container item's default limits and requests, completed as the API's defaulting does. */
function containerDefaults(items: LimitRangeItem[]): { limits: ResourceList; requests: ResourceList } {
  const limits: ResourceList = {};
  const requests: ResourceList = {};
  for (const item of items) {
    if (item.type !== 'Container') continue;
    const def: ResourceList = { ...(item.default ?? {}) } as ResourceList;
    for (const [k, v] of Object.entries(item.max ?? {})) def[k] ??= String(v);
    const defReq: ResourceList = { ...(item.defaultRequest ?? {}) } as ResourceList;
    for (const [k, v] of Object.entries(def)) defReq[k] ??= String(v);
    for (const [k, v] of Object.entries(item.min ?? {})) defReq[k] ??= String(v);
    Object.assign(requests, defReq);
    Object.assign(limits, def);
  }
  return { limits, requests };
}

/** Fills what a container lacks; returns the annotation parts (`cpu, memory request for container app`). */
function mergeContainerResources(c: Container, defaults: { limits: ResourceList; requests: ResourceList }, prefix: string): string[] {
  const resources = (c.resources ??= {});
  const setLimits: string[] = [];
  const setRequests: string[] = [];
  for (const [k, v] of Object.entries(defaults.limits)) {
    const limits = (resources.limits ??= {}) as ResourceList;
    if (limits[k] === undefined) {
      limits[k] = v;
      setLimits.push(k);
    }
  }
  for (const [k, v] of Object.entries(defaults.requests)) {
    const requests = (resources.requests ??= {}) as ResourceList;
    if (requests[k] === undefined) {
      requests[k] = v;
      setRequests.push(k);
    }
  }
  const parts: string[] = [];
  if (setRequests.length > 0) parts.push(`${setRequests.sort().join(', ')} request for ${prefix} ${c.name}`);
  if (setLimits.length > 0) parts.push(`${setLimits.sort().join(', ')} limit for ${prefix} ${c.name}`);
  return parts;
}

function forbiddenFor(attrs: AdmissionAttributes, errors: string[]): StatusError {
  const plural = attrs.resource.plural;
  const message = `${plural} "${attrs.name}" is forbidden: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`;
  const err = forbidden(message);
  return new StatusError({ ...err.status, details: { name: attrs.name, kind: plural } });
}

function q(list: ResourceList | undefined, k: string): Quantity | undefined {
  const v = list?.[k];
  return v === undefined ? undefined : tryParseQuantity(String(v));
}

const show = (s: string | Quantity) => (typeof s === 'string' ? (tryParseQuantity(s) ? formatQuantity(parseQuantity(s)) : s) : formatQuantity(s));

function minConstraint(type: string, name: string, enforced: string, requests: ResourceList, limits: ResourceList): string | undefined {
  const e = parseQuantity(enforced);
  const req = q(requests, name);
  const lim = q(limits, name);
  if (!req) return `minimum ${name} usage per ${type} is ${show(e)}.  No request is specified`;
  if (compareQuantities(req, e) < 0) return `minimum ${name} usage per ${type} is ${show(e)}, but request is ${show(req)}`;
  if (lim && compareQuantities(lim, e) < 0) return `minimum ${name} usage per ${type} is ${show(e)}, but limit is ${show(lim)}`;
  return undefined;
}

function maxConstraint(type: string, name: string, enforced: string, requests: ResourceList, limits: ResourceList): string | undefined {
  const e = parseQuantity(enforced);
  const req = q(requests, name);
  const lim = q(limits, name);
  if (!lim) return `maximum ${name} usage per ${type} is ${show(e)}.  No limit is specified`;
  if (compareQuantities(lim, e) > 0) return `maximum ${name} usage per ${type} is ${show(e)}, but limit is ${show(lim)}`;
  if (req && compareQuantities(req, e) > 0) return `maximum ${name} usage per ${type} is ${show(e)}, but request is ${show(req)}`;
  return undefined;
}

function maxRequestConstraint(type: string, name: string, enforced: string, requests: ResourceList): string | undefined {
  const e = parseQuantity(enforced);
  const req = q(requests, name);
  if (!req) return `maximum ${name} usage per ${type} is ${show(e)}.  No request is specified`;
  if (compareQuantities(req, e) > 0) return `maximum ${name} usage per ${type} is ${show(e)}, but request is ${show(req)}`;
  return undefined;
}

function ratioConstraint(type: string, name: string, enforced: string, requests: ResourceList, limits: ResourceList): string | undefined {
  const e = parseQuantity(enforced);
  const req = q(requests, name);
  const lim = q(limits, name);
  if (!req || req.nanos === 0n) return `${name} max limit to request ratio per ${type} is ${show(e)}, but no request is specified or request is 0`;
  if (!lim || lim.nanos === 0n) return `${name} max limit to request ratio per ${type} is ${show(e)}, but no limit is specified or limit is 0`;
  const ratio = Number(lim.nanos) / Number(req.nanos);
  // Upstream compares in milli-units and prints the ratio with Go's %f.
  if (Math.round(ratio * 1000) > Number(e.nanos / 1_000_000n)) return `${name} max limit to request ratio per ${type} is ${show(e)}, but provided ratio is ${ratio.toFixed(6)}`;
  return undefined;
}

function checkItem(item: LimitRangeItem, type: string, requests: ResourceList, limits: ResourceList, errors: string[]): void {
  const push = (e: string | undefined) => e && errors.push(e);
  for (const [k, v] of sortedEntries(item.min)) push(minConstraint(type, k, v, requests, limits));
  for (const [k, v] of sortedEntries(item.max)) push(maxConstraint(type, k, v, requests, limits));
  for (const [k, v] of sortedEntries(item.maxLimitRequestRatio)) push(ratioConstraint(type, k, v, requests, limits));
}

function sortedEntries(list: Record<string, unknown> | undefined): [string, string][] {
  return Object.entries(list ?? {})
    .map(([k, v]) => [k, String(v)] as [string, string])
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/** Sum over containers, init containers raising it to their own (resourcehelper's PodRequests/podLimits). */
function podTotal(spec: PodSpec, field: 'requests' | 'limits'): ResourceList {
  const total = new Map<string, Quantity>();
  for (const c of spec.containers ?? []) {
    for (const [k, v] of Object.entries(c.resources?.[field] ?? {})) {
      const qv = tryParseQuantity(String(v));
      if (qv) total.set(k, total.has(k) ? addQuantities(total.get(k)!, qv) : qv);
    }
  }
  for (const c of spec.initContainers ?? []) {
    for (const [k, v] of Object.entries(c.resources?.[field] ?? {})) {
      const qv = tryParseQuantity(String(v));
      if (qv && (!total.has(k) || compareQuantities(qv, total.get(k)!) > 0)) total.set(k, qv);
    }
  }
  return Object.fromEntries([...total].map(([k, v]) => [k, formatQuantity(v)]));
}

/** The mutating half: defaults on pod create. */
export function limitRangerDefaults(): MutatingAdmission {
  return {
    name: 'LimitRanger',
    operations: ['CREATE'],
    handles: (attrs) => isCoreResource(attrs, 'pods') && attrs.subresource === '',
    admit(attrs, ctx) {
      const items = limitRangesOf(ctx, attrs.namespace);
      if (items.length === 0) return;
      const pod = attrs.object as KubeObject & { spec?: PodSpec; status?: { qosClass?: string } };
      const spec = pod.spec;
      if (!spec) return;
      const defaults = containerDefaults(items);
      if (Object.keys(defaults.limits).length === 0 && Object.keys(defaults.requests).length === 0) return;
      const parts: string[] = [];
      for (const c of spec.containers ?? []) parts.push(...mergeContainerResources(c, defaults, 'container'));
      for (const c of spec.initContainers ?? []) parts.push(...mergeContainerResources(c, defaults, 'init container'));
      if (parts.length === 0) return;
      (pod.metadata.annotations ??= {})[LIMIT_RANGER_ANNOTATION] = `LimitRanger plugin set: ${parts.join('; ')}`;
      // The registry computed the QoS class before admission; upstream admits before it does.
      if (pod.status?.qosClass) pod.status.qosClass = computeQosClass(spec);
    },
  };
}

/** The validating half: min, max and ratios for pods on create, storage bounds for PVCs. */
export function limitRangerValidation(): ValidatingAdmission {
  return {
    name: 'LimitRanger',
    operations: ['CREATE', 'UPDATE'],
    handles: (attrs) =>
      attrs.subresource === '' && ((isCoreResource(attrs, 'pods') && attrs.operation === 'CREATE') || isCoreResource(attrs, 'persistentvolumeclaims')),
    validate(attrs, ctx) {
      const items = limitRangesOf(ctx, attrs.namespace);
      if (items.length === 0) return;
      const errors: string[] = [];
      if (attrs.resource.plural === 'pods') {
        const spec = (attrs.object as { spec?: PodSpec }).spec ?? ({ containers: [] } as PodSpec);
        for (const item of items) {
          if (item.type === 'Container') {
            for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
              checkItem(item, 'Container', (c.resources?.requests ?? {}) as ResourceList, (c.resources?.limits ?? {}) as ResourceList, errors);
            }
          } else if (item.type === 'Pod') {
            checkItem(item, 'Pod', podTotal(spec, 'requests'), podTotal(spec, 'limits'), errors);
          }
        }
      } else {
        const requests = ((attrs.object as { spec?: { resources?: { requests?: ResourceList } } }).spec?.resources?.requests ?? {}) as ResourceList;
        for (const item of items) {
          if (item.type !== 'PersistentVolumeClaim') continue;
          for (const [k, v] of sortedEntries(item.min)) {
            const e = minConstraint('PersistentVolumeClaim', k, v, requests, {});
            if (e) errors.push(e);
          }
          for (const [k, v] of sortedEntries(item.max)) {
            const e = maxRequestConstraint('PersistentVolumeClaim', k, v, requests);
            if (e) errors.push(e);
          }
        }
      }
      if (errors.length > 0) throw forbiddenFor(attrs, errors);
    },
  };
}
