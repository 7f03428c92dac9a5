/**
 * PodSecurity admission (k8s.io/pod-security-admission/admission, a validating plugin): namespaces choose a Pod
 * Security Standards level for each mode with labels, and
 *
 * - pods (create, significant updates, ephemeral containers) that break the `enforce` level are refused:
 *   `pods "x" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), ...`;
 *   when the pod is allowed, a distinct `warn` level it breaks adds the warning
 *   `would violate PodSecurity "baseline:latest": ...`, and an `audit` level it breaks is logged;
 * - workload resources with pod templates (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
 *   ReplicationControllers, PodTemplates) are never refused: `warn` and `audit` apply to their templates
 *   (https://kubernetes.io/docs/concepts/security/pod-security-admission/#workload-resources-and-pod-templates);
 * - namespaces with invalid policy labels are refused (422), and a change of the `enforce` level warns about the
 *   existing pods that break the new one.
 *
 * Exemptions (usernames, runtime class names, namespaces) and the defaults of unlabelled namespaces (privileged:latest
 * for every mode, as upstream) come from the options, as kube-apiserver's PodSecurityConfiguration.
 */
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { forbidden, invalid, StatusError } from '../../../api/status.js';
import type { AdmissionAttributes, AdmissionContext, ValidatingAdmission } from '../types.js';
import { evaluatePod, formatViolations } from './checks.js';
import { formatLevelVersion, type LevelVersion, type Mode, type Policy, policyFromLabels, sameLevelVersion } from './policy.js';


export interface PodSecurityOptions {
  /** Levels of namespaces without labels (default privileged:latest for every mode). */
  defaults?: Partial<Record<Mode, LevelVersion>>;
  exemptions?: { usernames?: string[]; runtimeClasses?: string[]; namespaces?: string[] };
}

const PRIVILEGED: LevelVersion = { level: 'privileged', version: { latest: true } };

/** Where each workload resource keeps its pod template. */
const TEMPLATE_PATHS: Record<string, string[]> = {
  'apps/deployments': ['spec', 'template'],
  'apps/replicasets': ['spec', 'template'],
  'apps/statefulsets': ['spec', 'template'],
  'apps/daemonsets': ['spec', 'template'],
  'batch/jobs': ['spec', 'template'],
  'batch/cronjobs': ['spec', 'jobTemplate', 'spec', 'template'],
  '/replicationcontrollers': ['spec', 'template'],
  '/podtemplates': ['template'],
};

interface PodTemplate {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

function templateOf(obj: KubeObject | undefined, path: string[]): PodTemplate | undefined {
  let cur: unknown = obj;
  for (const key of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  return cur && typeof cur === 'object' ? (cur as PodTemplate) : undefined;
}

export function podSecurityAdmission(opts: PodSecurityOptions = {}): ValidatingAdmission {
  const defaults: Policy = { enforce: opts.defaults?.enforce ?? PRIVILEGED, audit: opts.defaults?.audit ?? PRIVILEGED, warn: opts.defaults?.warn ?? PRIVILEGED };
  const exemptUsers = new Set(opts.exemptions?.usernames ?? []);
  const exemptRuntimeClasses = new Set(opts.exemptions?.runtimeClasses ?? []);
  const exemptNamespaces = new Set(opts.exemptions?.namespaces ?? []);

  type Parsed = ReturnType<typeof policyFromLabels>;
  /**
   * Calls `then` with the namespace's policy: synchronously from the watch cache (every pod write passes here), from
   * the store only for a namespace the cache does not have yet.
   */
  const withPolicy = (attrs: AdmissionAttributes, ctx: AdmissionContext, then: (p: Parsed) => void): void | Promise<void> => {
    const cached = ctx.cached('', 'namespaces', '', attrs.namespace);
    if (cached) return then(policyFromLabels(cached.metadata.labels, defaults));
    return ctx.get('', 'namespaces', '', attrs.namespace).then((ns) => then(policyFromLabels(ns?.metadata.labels, defaults)));
  };

  const validatePod = (attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void> => {
    const pod = attrs.object as KubeObject & { spec?: PodSpec };
    if (exemptNamespaces.has(attrs.namespace) || exemptUsers.has(attrs.user.username)) return;
    if (pod.spec?.runtimeClassName && exemptRuntimeClasses.has(pod.spec.runtimeClassName)) return;
    if (attrs.operation === 'UPDATE' && attrs.subresource === '' && !isSignificantPodUpdate(pod, attrs.oldObject as typeof pod)) return;
    return withPolicy(attrs, ctx, ({ policy, versionLabels }) => {
      const spec = (pod.spec ?? {}) as PodSpec;
      if (policy.enforce.level !== 'privileged') {
        const violations = evaluatePod(policy.enforce.level, policy.enforce.version, pod.metadata, spec);
        if (violations.length > 0) {
          const err = forbidden(`pods "${attrs.name}" is forbidden: violates PodSecurity "${formatLevelVersion(policy.enforce, versionLabels.enforce)}": ${formatViolations(violations)}`);
          throw new StatusError({ ...err.status, details: { name: attrs.name, kind: 'pods' } });
        }
      }
      auditAndWarn(attrs, policy, versionLabels, pod.metadata, spec, true);
    });
  };

  const auditAndWarn = (attrs: AdmissionAttributes, policy: Policy, versionLabels: Record<Mode, string>, meta: ObjectMeta, spec: PodSpec, isPod: boolean): void => {
    if (policy.audit.level !== 'privileged') {
      const violations = evaluatePod(policy.audit.level, policy.audit.version, meta, spec);
      if (violations.length > 0) {
        // The audit mode's record: an annotation on the request's audit event, as upstream words it.
        attrs.annotate?.('pod-security.kubernetes.io/audit-violations', `would violate PodSecurity "${formatLevelVersion(policy.audit, versionLabels.audit)}": ${formatViolations(violations)}`);
      }
    }
    // A pod allowed by enforce passes a warn level equal to it: evaluated only when it differs.
    if (policy.warn.level === 'privileged' || (isPod && sameLevelVersion(policy.warn, policy.enforce))) return;
    const violations = evaluatePod(policy.warn.level, policy.warn.version, meta, spec);
    if (violations.length > 0) attrs.warn(`would violate PodSecurity "${formatLevelVersion(policy.warn, versionLabels.warn)}": ${formatViolations(violations)}`);
  };

  const validateWorkload = (attrs: AdmissionAttributes, ctx: AdmissionContext, path: string[]): void | Promise<void> => {
    if (exemptNamespaces.has(attrs.namespace) || exemptUsers.has(attrs.user.username)) return;
    const template = templateOf(attrs.object, path);
    if (!template?.spec) return;
    if (template.spec.runtimeClassName && exemptRuntimeClasses.has(template.spec.runtimeClassName)) return;
    if (attrs.operation === 'UPDATE') {
      const old = templateOf(attrs.oldObject, path);
      if (old && JSON.stringify(old) === JSON.stringify(template)) return;
    }
    const spec = template.spec;
    return withPolicy(attrs, ctx, ({ policy, versionLabels }) => auditAndWarn(attrs, policy, versionLabels, template.metadata ?? {}, spec, false));
  };

  const validateNamespace = (attrs: AdmissionAttributes, ctx: AdmissionContext): void => {
    const ns = attrs.object!;
    const name = ns.metadata.name ?? attrs.name;
    const parsed = policyFromLabels(ns.metadata.labels, defaults);
    if (parsed.errors.length > 0) throw invalid('Namespace', undefined, name, parsed.errors);
    if (attrs.operation !== 'UPDATE') return;
    const old = policyFromLabels(attrs.oldObject?.metadata.labels, defaults);
    const enforce = parsed.policy.enforce;
    if (enforce.level === 'privileged' || sameLevelVersion(enforce, old.policy.enforce)) return;
    const shown = formatLevelVersion(enforce, parsed.versionLabels.enforce);
    if (exemptNamespaces.has(name)) {
      attrs.warn(`namespace ${JSON.stringify(name)} is exempt from Pod Security, and the policy (enforce=${shown}) will be ignored`);
      return;
    }
    // Pods sharing a set of violations are listed once: `web-1 (and 2 other pods): privileged, hostPath volumes`.
    const groups = new Map<string, string[]>();
    const pods = [...ctx.list('', 'pods', name)].filter((p) => p.metadata.namespace === name).sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    for (const pod of pods) {
      const spec = (pod as { spec?: PodSpec }).spec;
      if (!spec || (spec.runtimeClassName && exemptRuntimeClasses.has(spec.runtimeClassName))) continue;
      const violations = evaluatePod(enforce.level, enforce.version, pod.metadata, spec);
      if (violations.length === 0) continue;
      const reasons = violations.map((v) => v.reason).join(', ');
      const list = groups.get(reasons) ?? [];
      list.push(pod.metadata.name!);
      groups.set(reasons, list);
    }
    if (groups.size === 0) return;
    attrs.warn(`existing pods in namespace ${JSON.stringify(name)} violate the new PodSecurity enforce level ${JSON.stringify(shown)}`);
    for (const [reasons, names] of groups) {
      const others = names.length - 1;
      attrs.warn(others === 0 ? `${names[0]}: ${reasons}` : `${names[0]} (and ${others} other ${others === 1 ? 'pod' : 'pods'}): ${reasons}`);
    }
  };

  return {
    name: 'PodSecurity',
    operations: ['CREATE', 'UPDATE'],
    handles(attrs) {
      const def = attrs.resource;
      if (def.group === '' && def.plural === 'pods') return attrs.subresource === '' || attrs.subresource === 'ephemeralcontainers';
      if (def.group === '' && def.plural === 'namespaces') return attrs.subresource === '';
      return attrs.subresource === '' && `${def.group}/${def.plural}` in TEMPLATE_PATHS;
    },
    validate(attrs, ctx) {
      const def = attrs.resource;
      if (def.group === '' && def.plural === 'pods') return validatePod(attrs, ctx);
      if (def.group === '' && def.plural === 'namespaces') return validateNamespace(attrs, ctx);
      return validateWorkload(attrs, ctx, TEMPLATE_PATHS[`${def.group}/${def.plural}`]!);
    },
  };
}

const SECURITY_ANNOTATION = /^(seccomp\.security\.alpha\.kubernetes\.io\/pod|container\.seccomp\.security\.alpha\.kubernetes\.io\/|container\.apparmor\.security\.beta\.kubernetes\.io\/)/;

/**
 * Upstream checks pod updates only when they can change the outcome: a spec change other than container images (the
 * only spec fields a pod may change are images, activeDeadlineSeconds and tolerations) or a change of the seccomp
 * and AppArmor annotations. Label and annotation edits of running pods are never refused.
 */
function isSignificantPodUpdate(pod: KubeObject & { spec?: PodSpec }, old: (KubeObject & { spec?: PodSpec }) | undefined): boolean {
  if (!old) return true;
  const securityAnnotations = (o: KubeObject) =>
    JSON.stringify(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => SECURITY_ANNOTATION.test(k)).sort(([a], [b]) => (a < b ? -1 : 1)));
  if (securityAnnotations(pod) !== securityAnnotations(old)) return true;
  const withoutImages = (spec: PodSpec | undefined) =>
    JSON.stringify(spec, (key, value) => (key === 'image' ? undefined : value));
  return withoutImages(pod.spec) !== withoutImages(old.spec);
}
