/**
 * Puts the bootstrap policy in place at every start, as kube-apiserver's rbac/bootstrap-roles post-start hook does
 * (pkg/registry/rbac/rest/storage_rbac.go with reconciliation.ReconcileRoleOptions{RemoveExtraPermissions: false}):
 * missing roles and bindings are created; existing ones gain missing rules, subjects, labels and annotations, and keep
 * whatever was added to them; objects annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` are left alone.
 * A binding whose roleRef differs (roleRef is immutable) is deleted and created again.
 */
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../../api/status.js';
import { deepEqual } from '../../../api/validation.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { ResourceOps } from '../../resource-ops.js';
import { LOOPBACK_USER } from '../user-info.js';
import { AUTOUPDATE_ANNOTATION } from './bootstrap-policy.js';
import { compactRules, covers } from './rule-coverage.js';

export interface PolicyDefinitions {
  clusterroles: ResourceDefinition;
  clusterrolebindings: ResourceDefinition;
  roles?: ResourceDefinition;
  rolebindings?: ResourceDefinition;
}

/** The namespaced part of the policy (Roles and RoleBindings, each in its namespace). */
export interface NamespacedPolicy {
  roles: readonly Role[];
  bindings: readonly RoleBinding[];
}

/** The role as it should be after reconciling `expected` into `existing` (undefined: leave it as it is). */
export function computeReconciledRole(existing: ClusterRole, expected: ClusterRole): ClusterRole | undefined {
  if (existing.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return undefined;
  const next = structuredClone(existing);
  next.metadata = { ...next.metadata, labels: { ...expected.metadata?.labels, ...existing.metadata?.labels }, annotations: { ...expected.metadata?.annotations, ...existing.metadata?.annotations } };
  if (expected.aggregationRule) {
    const selectors = [...(existing.aggregationRule?.clusterRoleSelectors ?? [])];
    for (const s of expected.aggregationRule.clusterRoleSelectors ?? []) if (!selectors.some((t) => deepEqual(t, s))) selectors.push(s);
    next.aggregationRule = { clusterRoleSelectors: selectors };
  }
  const { missing } = covers(existing.rules ?? [], expected.rules ?? []);
  if (missing.length > 0) next.rules = [...(existing.rules ?? []), ...compactRules(missing)];
  return deepEqual(next, existing) ? undefined : next;
}

/** The binding after reconciling (undefined: leave it; 'recreate': its roleRef must change). */
export function computeReconciledBinding(existing: ClusterRoleBinding, expected: ClusterRoleBinding): ClusterRoleBinding | 'recreate' | undefined {
  if (existing.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return undefined;
  if (!deepEqual(existing.roleRef, expected.roleRef)) return 'recreate';
  const next = structuredClone(existing);
  next.metadata = { ...next.metadata, labels: { ...expected.metadata?.labels, ...existing.metadata?.labels }, annotations: { ...expected.metadata?.annotations, ...existing.metadata?.annotations } };
  const subjects: Subject[] = [...(existing.subjects ?? [])];
  for (const s of expected.subjects ?? []) if (!subjects.some((t) => sameSubject(t, s))) subjects.push(s);
  if (subjects.length > 0) next.subjects = subjects;
  return deepEqual(next, existing) ? undefined : next;
}

function sameSubject(a: Subject, b: Subject): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '') && (a.apiGroup ?? '') === (b.apiGroup ?? '');
}

/** Creates or reconciles every role and binding; returns what it changed (for the log and tests). */
export async function reconcileBootstrapPolicy(
  ops: ResourceOps,
  defs: PolicyDefinitions,
  roles: readonly ClusterRole[],
  bindings: readonly ClusterRoleBinding[],
  namespaced?: NamespacedPolicy,
): Promise<{ created: string[]; updated: string[] }> {
  const created: string[] = [];
  const updated: string[] = [];
  const opts = { dryRun: false, user: LOOPBACK_USER };
  const ensure = async (def: ResourceDefinition, expected: KubeObject, reconcile: (existing: any) => KubeObject | 'recreate' | undefined) => {
    const name = expected.metadata.name!;
    const ns = expected.metadata.namespace ?? '';
    const label = `${def.plural}/${ns ? `${ns}/` : ''}${name}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      let existing: KubeObject | undefined;
      try {
        existing = (await ops.get(def, ns, name)).obj;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!existing) {
        try {
          await ops.create(def, ns, structuredClone(expected), opts);
          created.push(label);
          return;
        } catch (err) {
          if (isAlreadyExists(err)) continue;
          throw err;
        }
      }
      const next = reconcile(existing);
      if (next === undefined) return;
      if (next === 'recreate') {
        await ops.delete(def, ns, name, { ...opts, preconditions: { uid: existing.metadata.uid } }).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
        continue;
      }
      // Recomputed on the stored object, so a write in between is kept rather than refused.
      await ops.update(def, ns, name, (current) => {
        const again = reconcile(current);
        return again && again !== 'recreate' ? again : current;
      }, opts);
      updated.push(label);
      return;
    }
  };
  // Objects are independent of each other: all at once (a first start writes about fifty; one by one that was 0.4 s
  // on SQLite).
  const work: Promise<void>[] = [
    ...roles.map((role) => ensure(defs.clusterroles, role as unknown as KubeObject, (e) => computeReconciledRole(e, role) as unknown as KubeObject | undefined)),
    ...bindings.map((b) => ensure(defs.clusterrolebindings, b as unknown as KubeObject, (e) => computeReconciledBinding(e, b) as unknown as KubeObject | 'recreate' | undefined)),
  ];
  if (namespaced && defs.roles && defs.rolebindings) {
    // Their namespaces (kube-system) exist by now: startApiServer creates the system namespaces first.
    for (const role of namespaced.roles) work.push(ensure(defs.roles, role as unknown as KubeObject, (e) => computeReconciledRole(e, role as ClusterRole) as unknown as KubeObject | undefined));
    for (const b of namespaced.bindings) work.push(ensure(defs.rolebindings, b as unknown as KubeObject, (e) => computeReconciledBinding(e, b as ClusterRoleBinding) as unknown as KubeObject | 'recreate' | undefined));
  }
  await Promise.all(work);
  return { created, updated };
}
