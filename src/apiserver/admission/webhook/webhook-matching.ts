/**
 * Which webhooks a write is sent to (k8s.io/apiserver/pkg/admission/plugin/webhook/predicates and generic/webhook.go):
 * a webhook is called when one of its rules matches the operation, group, version, resource, subresource and scope,
 * and its namespaceSelector and objectSelector match. Pure functions over plain data; the plugin supplies the
 * namespace labels.
 */
import type { KubeObject } from '../../../api/object.js';
import { labelSelectorFromObject, matches, type LabelSelector } from '../../../api/labels.js';
import type { AnyWebhook, RuleWithOperations } from '../../registry/mutatingwebhookconfigurations.js';

/** What the rules of a webhook are matched against (one version of the resource written). */
export interface MatchTarget {
  operation: string;
  group: string;
  version: string;
  /** The plural resource name, e.g. `pods`. */
  resource: string;
  /** '' for the main resource. */
  subresource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
}

/** True when the rule covers the target (rules.Matcher). */
export function ruleMatches(rule: RuleWithOperations, t: MatchTarget): boolean {
  const ops = rule.operations ?? [];
  if (!ops.includes('*') && !ops.includes(t.operation)) return false;
  if (!matchesList(rule.apiGroups, t.group) || !matchesList(rule.apiVersions, t.version)) return false;
  if (!scopeMatches(rule.scope, t)) return false;
  for (const entry of rule.resources ?? []) {
    const slash = entry.indexOf('/');
    const res = slash < 0 ? entry : entry.slice(0, slash);
    const sub = slash < 0 ? '' : entry.slice(slash + 1);
    // `*` alone is every main resource, `*/*` every resource and subresource, `pods/*` every pod subresource.
    if ((res === '*' || res === t.resource) && (sub === '*' || sub === t.subresource)) return true;
  }
  return false;
}

function matchesList(list: readonly string[] | undefined, value: string): boolean {
  return (list ?? []).some((v) => v === '*' || v === value);
}

/** Namespaces themselves are cluster-scoped, whatever namespace the request names. */
function scopeMatches(scope: string | undefined, t: MatchTarget): boolean {
  const isNamespace = t.group === '' && t.resource === 'namespaces';
  switch (scope ?? '*') {
    case 'Cluster':
      return isNamespace || t.namespace === '';
    case 'Namespaced':
      return !isNamespace && t.namespace !== '';
    default:
      return true;
  }
}

/** True when any rule of the webhook matches. */
export function rulesMatch(hook: AnyWebhook, t: MatchTarget): boolean {
  return (hook.rules ?? []).some((rule) => ruleMatches(rule, t));
}

/**
 * Compiled selectors of one webhook; `everything` flags let the common empty selector skip label lookups.
 * Invalid selectors never reach here (the registry refuses them).
 */
export interface CompiledSelectors {
  namespace: LabelSelector;
  namespaceEverything: boolean;
  object: LabelSelector;
  objectEverything: boolean;
}

export function compileSelectors(hook: AnyWebhook): CompiledSelectors {
  const ns = hook.namespaceSelector ?? {};
  const obj = hook.objectSelector ?? {};
  return {
    namespace: labelSelectorFromObject(ns as never),
    namespaceEverything: isEmptySelector(ns),
    object: labelSelectorFromObject(obj as never),
    objectEverything: isEmptySelector(obj),
  };
}

function isEmptySelector(sel: Record<string, unknown>): boolean {
  const labels = sel.matchLabels as Record<string, string> | undefined;
  const exprs = sel.matchExpressions as unknown[] | undefined;
  return (!labels || Object.keys(labels).length === 0) && (!exprs || exprs.length === 0);
}

/**
 * objectSelector (predicates/object): matches when the new or the old object's labels match, so a webhook sees
 * both the write that adds a label and the one that removes it.
 */
export function objectSelectorMatches(sel: CompiledSelectors, object: KubeObject | undefined, oldObject: KubeObject | undefined): boolean {
  if (sel.objectEverything) return true;
  return (object !== undefined && matches(sel.object, object.metadata?.labels ?? {})) || (oldObject !== undefined && matches(sel.object, oldObject.metadata?.labels ?? {}));
}

/**
 * namespaceSelector (predicates/namespace): cluster-scoped objects other than namespaces always match; a Namespace
 * is matched by its own labels; a namespaced object by its namespace's labels (`undefined` = namespace not found).
 */
export function namespaceSelectorMatches(sel: CompiledSelectors, namespaceLabels: Record<string, string> | undefined): boolean {
  if (sel.namespaceEverything) return true;
  return matches(sel.namespace, namespaceLabels ?? {});
}
