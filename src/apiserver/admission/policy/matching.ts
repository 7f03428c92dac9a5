/**
 * Which requests a policy (matchConstraints) or binding (matchResources) selects, as
 * k8s.io/apiserver/pkg/admission/plugin/policy/matching decides: resource rules (operation, group, version,
 * resource and subresource with `*` and `*\/status`-style wildcards, scope, resourceNames), minus exclude rules,
 * then the namespace selector (on the request's namespace; a Namespace object is matched by its own labels; other
 * cluster-scoped objects always pass) and the object selector (the new or the old object's labels).
 */
import type { MatchResources as MatchResourcesType, NamedRuleWithOperations as NamedRule } from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { labelSelectorFromObject, matches, type LabelSelector } from '../../../api/labels.js';
import type { AdmissionAttributes } from '../types.js';

/** kubernetes-types leaves out the resources and scope fields of a rule. */
export type NamedRuleWithOperations = NamedRule & { resources?: string[]; scope?: string };
export type MatchResources = Omit<MatchResourcesType, 'resourceRules' | 'excludeResourceRules'> & { resourceRules?: NamedRuleWithOperations[]; excludeResourceRules?: NamedRuleWithOperations[] };

const selectors = new WeakMap<object, LabelSelector>();

function selectorOf(obj: object): LabelSelector {
  let s = selectors.get(obj);
  if (!s) {
    s = labelSelectorFromObject(obj);
    selectors.set(obj, s);
  }
  return s;
}

function includes(list: string[] | undefined, value: string): boolean {
  return !!list && (list.includes('*') || list.includes(value));
}

function resourceMatches(patterns: string[] | undefined, resource: string, subresource: string): boolean {
  for (const p of patterns ?? []) {
    if (p === '*/*') return true;
    const [res, sub] = p.split('/') as [string, string | undefined];
    if (sub === undefined) {
      if (subresource === '' && (res === '*' || res === resource)) return true;
    } else if ((res === '*' || res === resource) && (sub === '*' || sub === subresource)) return true;
  }
  return false;
}

/** True when one rule selects the request. */
export function ruleMatches(rule: NamedRuleWithOperations, attrs: AdmissionAttributes): boolean {
  if (!includes(rule.operations, attrs.operation)) return false;
  const def = attrs.resource;
  if (!includes(rule.apiGroups, def.group) || !includes(rule.apiVersions, def.version)) return false;
  if (!resourceMatches(rule.resources, def.plural, attrs.subresource)) return false;
  const scope = rule.scope ?? '*';
  if (scope === 'Cluster' && def.namespaced) return false;
  if (scope === 'Namespaced' && !def.namespaced) return false;
  if (rule.resourceNames?.length && !rule.resourceNames.includes(attrs.name)) return false;
  return true;
}

export interface MatchContext {
  /** The labels of the request's namespace (undefined when it does not exist or the request is cluster-scoped). */
  namespaceLabels(): Record<string, string> | undefined;
}

/**
 * True when m selects the request. `rulesRequired`: a policy's matchConstraints must name resources; a binding's
 * matchResources without resourceRules selects whatever its policy selects.
 */
export function matchResources(m: MatchResources | undefined, attrs: AdmissionAttributes, ctx: MatchContext, rulesRequired: boolean): boolean {
  if (!m) return !rulesRequired;
  if (m.resourceRules?.length) {
    if (!m.resourceRules.some((r) => ruleMatches(r, attrs))) return false;
  } else if (rulesRequired) return false;
  if (m.excludeResourceRules?.some((r) => ruleMatches(r, attrs))) return false;

  if (m.namespaceSelector && (m.namespaceSelector.matchLabels || m.namespaceSelector.matchExpressions?.length)) {
    const sel = selectorOf(m.namespaceSelector);
    const isNamespace = attrs.resource.group === '' && attrs.resource.plural === 'namespaces';
    // Every namespace carries kubernetes.io/metadata.name with its own name (upstream's namespace strategy sets it).
    if (isNamespace) {
      const ns = (attrs.object ?? attrs.oldObject) as KubeObject | undefined;
      if (!matches(sel, { 'kubernetes.io/metadata.name': attrs.name, ...ns?.metadata?.labels })) return false;
    } else if (attrs.resource.namespaced) {
      if (!matches(sel, { 'kubernetes.io/metadata.name': attrs.namespace, ...ctx.namespaceLabels() })) return false;
    }
  }
  if (m.objectSelector && (m.objectSelector.matchLabels || m.objectSelector.matchExpressions?.length)) {
    const sel = selectorOf(m.objectSelector);
    const newLabels = attrs.object?.metadata?.labels;
    const oldLabels = attrs.oldObject?.metadata?.labels;
    const ok = (attrs.object !== undefined && matches(sel, newLabels ?? {})) || (attrs.oldObject !== undefined && matches(sel, oldLabels ?? {}));
    if (!ok) return false;
  }
  return true;
}
