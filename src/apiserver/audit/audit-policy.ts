/**
 * kube-apiserver's audit Policy (audit.k8s.io/v1): rules checked in order, the first that matches a request decides its
 * level — None (not logged), Metadata (who, what, when, the outcome), Request (and the request body), RequestResponse
 * (and the response body). A request no rule matches is not logged. Matching follows
 * k8s.io/apiserver/pkg/audit/policy/checker.go: users, userGroups, verbs, then either resources (group, resources with
 * `*`, `pods/log`, `pods/*`, a star before a subresource as in `*` + `/status`, resourceNames) and namespaces, or nonResourceURLs (exact, or a prefix ending
 * in `*`). omitStages of the policy and of the rule add up; omitManagedFields of a rule overrides the policy's.
 */
import { parse as parseYaml } from 'yaml';

export const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type AuditLevel = (typeof LEVELS)[number];
export const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type AuditStage = (typeof STAGES)[number];

export interface GroupResources {
  group: string;
  resources: string[];
  resourceNames: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: AuditStage[];
  omitManagedFields?: boolean;
}

export interface AuditPolicy {
  rules: PolicyRule[];
  omitStages: AuditStage[];
  omitManagedFields: boolean;
}

/** What the checker needs of a request (the authorization attributes). */
export interface AuditRequestAttributes {
  user: { username: string; groups: string[] };
  verb: string;
  isResourceRequest: boolean;
  path: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface AuditDecision {
  level: AuditLevel;
  omitStages: ReadonlySet<AuditStage>;
  omitManagedFields: boolean;
}

export class AuditPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditPolicyError';
  }
}

export function parseAuditPolicy(text: string, source = 'audit policy'): AuditPolicy {
  let doc: any;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AuditPolicyError(`${source}: not JSON or YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new AuditPolicyError(`${source}: expected a Policy object`);
  if (doc.kind !== 'Policy') throw new AuditPolicyError(`${source}: kind must be Policy, not ${JSON.stringify(doc.kind)}`);
  if (doc.apiVersion !== 'audit.k8s.io/v1') throw new AuditPolicyError(`${source}: apiVersion must be audit.k8s.io/v1, not ${JSON.stringify(doc.apiVersion)}`);
  const omitStages = stages(doc.omitStages, `${source}: omitStages`);
  if (!Array.isArray(doc.rules) || doc.rules.length === 0) throw new AuditPolicyError(`${source}: rules: Required value: a policy with no rules logs nothing`);
  const rules = doc.rules.map((r: any, i: number): PolicyRule => {
    const at = `${source}: rules[${i}]`;
    if (typeof r !== 'object' || r === null) throw new AuditPolicyError(`${at}: expected an object`);
    if (!LEVELS.includes(r.level)) throw new AuditPolicyError(`${at}.level: Unsupported value: ${JSON.stringify(r.level)}: supported values: "None", "Metadata", "Request", "RequestResponse"`);
    const resources = list(r.resources, `${at}.resources`).map((g: any, j: number): GroupResources => {
      if (typeof g !== 'object' || g === null) throw new AuditPolicyError(`${at}.resources[${j}]: expected an object`);
      const res = strings(g.resources, `${at}.resources[${j}].resources`);
      const names = strings(g.resourceNames, `${at}.resources[${j}].resourceNames`);
      for (const [k, x] of res.entries()) {
        if (x.includes('/') && !x.startsWith('*/') && x.split('/').length !== 2) throw new AuditPolicyError(`${at}.resources[${j}].resources[${k}]: Invalid value: ${JSON.stringify(x)}`);
      }
      if (names.length && res.some((x) => x === '*' || x.endsWith('/*'))) throw new AuditPolicyError(`${at}.resources[${j}].resourceNames: Invalid value: resourceNames need resources without wildcards`);
      return { group: typeof g.group === 'string' ? g.group : '', resources: res, resourceNames: names };
    });
    const nonResourceURLs = strings(r.nonResourceURLs, `${at}.nonResourceURLs`);
    const namespaces = strings(r.namespaces, `${at}.namespaces`);
    if (nonResourceURLs.length && (resources.length || namespaces.length)) throw new AuditPolicyError(`${at}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs`);
    for (const [k, u] of nonResourceURLs.entries()) {
      if (!u.startsWith('/') && u !== '*') throw new AuditPolicyError(`${at}.nonResourceURLs[${k}]: Invalid value: ${JSON.stringify(u)}: non-resource URLs must start with /`);
      if (u.slice(0, -1).includes('*')) throw new AuditPolicyError(`${at}.nonResourceURLs[${k}]: Invalid value: ${JSON.stringify(u)}: a * may only end a non-resource URL`);
    }
    return {
      level: r.level,
      users: strings(r.users, `${at}.users`),
      userGroups: strings(r.userGroups, `${at}.userGroups`),
      verbs: strings(r.verbs, `${at}.verbs`),
      resources,
      namespaces,
      nonResourceURLs,
      omitStages: stages(r.omitStages, `${at}.omitStages`),
      ...(typeof r.omitManagedFields === 'boolean' ? { omitManagedFields: r.omitManagedFields } : {}),
    };
  });
  return { rules, omitStages, omitManagedFields: doc.omitManagedFields === true };
}

const NONE: AuditDecision = Object.freeze({ level: 'None', omitStages: new Set<AuditStage>(), omitManagedFields: false });

export class AuditPolicyChecker {
  readonly #decisions: AuditDecision[];

  constructor(readonly policy: AuditPolicy) {
    this.#decisions = policy.rules.map((r) => ({
      level: r.level,
      omitStages: new Set([...policy.omitStages, ...r.omitStages]),
      omitManagedFields: r.omitManagedFields ?? policy.omitManagedFields,
    }));
  }

  decide(attrs: AuditRequestAttributes): AuditDecision {
    const rules = this.policy.rules;
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, attrs)) return this.#decisions[i]!;
    return NONE;
  }
}

function ruleMatches(r: PolicyRule, a: AuditRequestAttributes): boolean {
  if (r.users.length && !r.users.includes(a.user.username)) return false;
  if (r.userGroups.length && !a.user.groups.some((g) => r.userGroups.includes(g))) return false;
  if (r.verbs.length && !r.verbs.includes(a.verb)) return false;
  if (r.namespaces.length || r.resources.length) return resourceMatches(r, a);
  if (r.nonResourceURLs.length) return !a.isResourceRequest && r.nonResourceURLs.some((u) => u === a.path || u === '*' || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  return true;
}

function resourceMatches(r: PolicyRule, a: AuditRequestAttributes): boolean {
  if (!a.isResourceRequest) return false;
  if (r.namespaces.length && !r.namespaces.includes(a.namespace)) return false;
  if (!r.resources.length) return true;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const gr of r.resources) {
    if (gr.group !== a.apiGroup) continue;
    if (!gr.resources.length) return true;
    if (gr.resourceNames.length && !gr.resourceNames.includes(a.name)) continue;
    for (const res of gr.resources) {
      if (res === combined || res === '*') return true;
      if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
    }
  }
  return false;
}

function list(v: unknown, at: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new AuditPolicyError(`${at}: expected a list`);
  return v;
}

function strings(v: unknown, at: string): string[] {
  return list(v, at).map((x, i) => {
    if (typeof x !== 'string') throw new AuditPolicyError(`${at}[${i}]: expected a string`);
    return x;
  });
}

function stages(v: unknown, at: string): AuditStage[] {
  return strings(v, at).map((s, i) => {
    if (!(STAGES as readonly string[]).includes(s)) throw new AuditPolicyError(`${at}[${i}]: Unsupported value: ${JSON.stringify(s)}: supported values: ${STAGES.map((x) => `"${x}"`).join(', ')}`);
    return s as AuditStage;
  });
}
