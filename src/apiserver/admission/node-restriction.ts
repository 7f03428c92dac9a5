/**
 * NodeRestriction admission (k8s plugin/pkg/admission/noderestriction), after the Node authorizer: what that authorizer
 * lets every node do (write Nodes, delete pods, update pod status, write Leases) is narrowed here to the node's own
 * objects, because only admission sees the objects themselves. A node (`system:node:<name>` in `system:nodes`) may
 *
 * - create and modify only its own Node, never with labels under node-restriction.kubernetes.io/ nor kubernetes.io /
 *   k8s.io labels the kubelet does not set (node-role.kubernetes.io/* included), nor change its taints;
 * - create only mirror pods bound to itself (owned by its Node, referencing no secrets, configmaps, PVCs or service
 *   account), delete and update the status of pods bound to itself, not through status change their labels;
 * - evict only pods bound to itself, and request service account tokens only bound to a pod bound to itself;
 * - update only the status (capacity, conditions) of PVCs;
 * - write only its own Lease in kube-node-lease and its own CSINode.
 *
 * Refusals are 403 with kube-apiserver's words: `nodes "n1" is forbidden: node "n2" is not allowed to modify node "n1"`.
 * Evictions and TokenRequests reach here as creates of their subresource (`subresourceActions`).
 */
import type { KubeObject } from '../../api/object.js';
import { forbiddenLabels } from '../../api/node-labels.js';
import { StatusError } from '../../api/status.js';
import { nodeNameOf } from '../auth/node/node-authorizer.js';
import type { AdmissionAttributes, AdmissionContext, MutatingAdmission } from './types.js';

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

type Obj = KubeObject & { spec?: any; status?: any };

export function nodeRestriction(): MutatingAdmission {
  return {
    name: 'NodeRestriction',
    operations: ['CREATE', 'UPDATE', 'DELETE'],
    // Evictions and TokenRequests are creates through subresource actions.
    subresourceActions: true,
    handles: (attrs) => nodeNameOf(attrs.user) !== undefined,
    admit(attrs, ctx) {
      const node = nodeNameOf(attrs.user)!;
      if (node === '') throw admissionForbidden(attrs, `could not determine node from user ${JSON.stringify(attrs.user.username)}`);
      const { group, plural } = attrs.resource;
      if (group === '') {
        switch (plural) {
          case 'pods':
            return admitPod(node, attrs, ctx);
          case 'nodes':
            return admitNode(node, attrs);
          case 'persistentvolumeclaims':
            if (attrs.subresource !== 'status') throw admissionForbidden(attrs, 'may only update PVC status');
            return admitPVCStatus(node, attrs);
          case 'serviceaccounts':
            return attrs.operation === 'CREATE' && attrs.subresource === 'token' ? admitTokenRequest(node, attrs, ctx) : undefined;
        }
      } else if (group === 'coordination.k8s.io' && plural === 'leases') {
        return admitLease(node, attrs);
      } else if (group === 'storage.k8s.io' && plural === 'csinodes') {
        const name = attrs.operation === 'CREATE' ? (attrs.object?.metadata.name ?? '') : attrs.name;
        if (name !== node) throw admissionForbidden(attrs, 'can only access CSINode with the same name as the requesting node');
      }
      return undefined;
    },
  };
}

function admitPod(node: string, attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void> {
  if (attrs.subresource === 'status') {
    if (attrs.operation !== 'UPDATE') throw admissionForbidden(attrs, `unexpected operation ${JSON.stringify(attrs.operation)}`);
    const oldPod = attrs.oldObject as Obj;
    const newPod = attrs.object as Obj;
    if (oldPod.spec?.nodeName !== node) throw admissionForbidden(attrs, `node ${JSON.stringify(node)} can only update pod status for pods with spec.nodeName set to itself`);
    if (!sameStringMap(oldPod.metadata.labels, newPod.metadata.labels)) throw admissionForbidden(attrs, `node ${JSON.stringify(node)} cannot update labels through pod status`);
    if (!sameClaimStatuses(oldPod.status?.resourceClaimStatuses, newPod.status?.resourceClaimStatuses)) {
      throw admissionForbidden(attrs, `node ${JSON.stringify(node)} cannot update resource claim statues`);
    }
    return;
  }
  if (attrs.subresource === 'eviction') return admitPodEviction(node, attrs, ctx);
  if (attrs.subresource !== '') throw admissionForbidden(attrs, `unexpected pod subresource ${JSON.stringify(attrs.subresource)}, only 'status' and 'eviction' are allowed`);
  if (attrs.operation === 'DELETE') {
    // An eviction deletes the pod as its requester: the same rule covers both.
    if ((attrs.oldObject as Obj | undefined)?.spec?.nodeName !== node) throw admissionForbidden(attrs, `node ${JSON.stringify(node)} can only delete pods with spec.nodeName set to itself`);
    return;
  }
  if (attrs.operation !== 'CREATE') throw admissionForbidden(attrs, `unexpected operation ${JSON.stringify(attrs.operation)}, node ${JSON.stringify(node)} can only create and delete mirror pods`);
  return admitMirrorPodCreate(node, attrs, ctx);
}

async function admitMirrorPodCreate(node: string, attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
  const pod = attrs.object as Obj;
  const q = JSON.stringify(node);
  if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] === undefined) {
    throw admissionForbidden(attrs, `pod does not have "${MIRROR_POD_ANNOTATION}" annotation, node ${q} can only create mirror pods`);
  }
  if (pod.spec?.nodeName !== node) throw admissionForbidden(attrs, `node ${q} can only create pods with spec.nodeName set to itself`);
  const owners = pod.metadata.ownerReferences ?? [];
  if (owners.length > 1) throw admissionForbidden(attrs, `node ${q} can only create pods with a single owner reference set to itself`);
  if (owners.length === 0) throw admissionForbidden(attrs, `node ${q} can only create pods with an owner reference set to itself`);
  const owner = owners[0]!;
  if (owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node) throw admissionForbidden(attrs, `node ${q} can only create pods with an owner reference set to itself`);
  if (owner.controller !== true) throw admissionForbidden(attrs, `node ${q} can only create pods with a controller owner reference set to itself`);
  if (owner.blockOwnerDeletion === true) throw admissionForbidden(attrs, `node ${q} must not set blockOwnerDeletion on an owner reference`);
  const nodeObj = await ctx.get('', 'nodes', '', node);
  if (!nodeObj) {
    throw new StatusError({ message: `nodes "${node}" not found`, reason: 'NotFound', code: 404, details: { name: node, kind: 'nodes' } });
  }
  if (owner.uid !== nodeObj.metadata.uid) throw admissionForbidden(attrs, `node ${node} UID mismatch: expected ${owner.uid} got ${nodeObj.metadata.uid}`);
  if (pod.spec?.serviceAccountName) throw admissionForbidden(attrs, `node ${q} can not create pods that reference a service account`);
  const { podReferences } = await import('../auth/node/node-graph.js');
  const refs = podReferences(pod);
  if (refs.some((r) => r.startsWith('secret/'))) throw admissionForbidden(attrs, `node ${q} can not create pods that reference secrets`);
  if (refs.some((r) => r.startsWith('configmap/'))) throw admissionForbidden(attrs, `node ${q} can not create pods that reference configmaps`);
  for (const v of pod.spec?.volumes ?? []) {
    for (const src of v?.projected?.sources ?? []) if (src?.clusterTrustBundle) throw admissionForbidden(attrs, `node ${q} can not create pods that reference clustertrustbundles`);
  }
  if ((pod.spec?.volumes ?? []).some((v: any) => v?.persistentVolumeClaim)) throw admissionForbidden(attrs, `node ${q} can not create pods that reference persistentvolumeclaims`);
}

async function admitPodEviction(node: string, attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
  if (attrs.operation !== 'CREATE') throw admissionForbidden(attrs, `unexpected operation ${attrs.operation}`);
  // The pod named in the path, else the one the Eviction names.
  const podName = attrs.name || attrs.object?.metadata?.name;
  if (!podName) throw admissionForbidden(attrs, 'could not determine pod from request data');
  const pod = (await ctx.get('', 'pods', attrs.namespace, podName)) as Obj | undefined;
  if (!pod) throw new StatusError({ message: `pods "${podName}" not found`, reason: 'NotFound', code: 404, details: { name: podName, kind: 'pods' } });
  if (pod.spec?.nodeName !== node) throw admissionForbidden(attrs, `node ${node} can only evict pods with spec.nodeName set to itself`);
}

/** A node's TokenRequest must be bound to a pod scheduled on it (the kubelet's projected service account tokens). */
async function admitTokenRequest(node: string, attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
  const ref = (attrs.object as Obj | undefined)?.spec?.boundObjectRef;
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) throw admissionForbidden(attrs, 'node requested token not bound to a pod');
  if (!ref.uid) throw admissionForbidden(attrs, 'node requested token with a pod binding without a uid');
  const pod = await ctx.get('', 'pods', attrs.namespace, String(ref.name));
  if (!pod) throw new StatusError({ message: `pods "${ref.name}" not found`, reason: 'NotFound', code: 404, details: { name: String(ref.name), kind: 'pods' } });
  if (ref.uid !== pod.metadata.uid) {
    throw admissionForbidden(attrs, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  if ((pod as Obj).spec?.nodeName !== node) throw admissionForbidden(attrs, 'node requested token bound to a pod scheduled on a different node');
}

function admitNode(node: string, attrs: AdmissionAttributes): void {
  const requested = attrs.operation === 'CREATE' ? (attrs.object?.metadata.name ?? attrs.name) : attrs.name;
  const q = JSON.stringify(node);
  if (requested !== node) throw admissionForbidden(attrs, `node ${q} is not allowed to modify node ${JSON.stringify(requested)}`);
  const obj = attrs.object as Obj | undefined;
  if (attrs.operation === 'CREATE' && obj) {
    if (obj.spec?.configSource != null) throw admissionForbidden(attrs, `node ${q} is not allowed to create pods with a non-nil configSource`);
    const forbidden = forbiddenLabels(modifiedLabels(obj.metadata.labels, undefined));
    if (forbidden.length) throw admissionForbidden(attrs, `node ${q} is not allowed to set the following labels: ${forbidden.join(', ')}`);
  }
  if (attrs.operation === 'UPDATE' && obj) {
    const old = attrs.oldObject as Obj;
    if (obj.spec?.configSource != null && JSON.stringify(obj.spec.configSource) !== JSON.stringify(old.spec?.configSource)) {
      throw admissionForbidden(attrs, `node ${q} is not allowed to update configSource to a new non-nil configSource`);
    }
    if (!sameTaints(obj.spec?.taints, old.spec?.taints)) throw admissionForbidden(attrs, `node ${q} is not allowed to modify taints`);
    const forbidden = forbiddenLabels(modifiedLabels(obj.metadata.labels, old.metadata.labels));
    // Upstream's message has no subject here; kept word for word.
    if (forbidden.length) throw admissionForbidden(attrs, `is not allowed to modify labels: ${forbidden.join(', ')}`);
  }
}

function admitPVCStatus(node: string, attrs: AdmissionAttributes): void {
  if (attrs.operation !== 'UPDATE') throw admissionForbidden(attrs, `unexpected operation ${JSON.stringify(attrs.operation)}`);
  const strip = (o: Obj) => {
    const c = structuredClone(o) as Obj;
    delete (c.metadata as { resourceVersion?: string }).resourceVersion;
    delete (c.metadata as { managedFields?: unknown }).managedFields;
    if (c.status) {
      for (const f of ['capacity', 'conditions', 'allocatedResourceStatuses', 'allocatedResources']) delete c.status[f];
    }
    return c;
  };
  const before = strip(attrs.oldObject as Obj);
  const after = strip(attrs.object as Obj);
  const changed = changedPaths(before, after);
  if (changed.length) {
    throw admissionForbidden(attrs, `node ${JSON.stringify(node)} is not allowed to update fields other than status.capacity and status.conditions: ${changed.join(', ')}`);
  }
}

function admitLease(node: string, attrs: AdmissionAttributes): void {
  if (attrs.namespace !== NODE_LEASE_NAMESPACE) throw admissionForbidden(attrs, `can only access leases in the "${NODE_LEASE_NAMESPACE}" system namespace`);
  const name = attrs.operation === 'CREATE' ? (attrs.object?.metadata.name ?? '') : attrs.name;
  if (name !== node) throw admissionForbidden(attrs, 'can only access node lease with the same name as the requesting node');
}

function modifiedLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(a ?? {})) if (b?.[k] !== v) out.add(k);
  for (const [k, v] of Object.entries(b ?? {})) if (a?.[k] !== v) out.add(k);
  return [...out];
}

function sameStringMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  return modifiedLabels(a, b).length === 0;
}

function sameTaints(a: unknown[] | undefined, b: unknown[] | undefined): boolean {
  // Semantic.DeepEqual: an empty list equals an absent one.
  return JSON.stringify(a?.length ? a : []) === JSON.stringify(b?.length ? b : []);
}

function sameClaimStatuses(a: any[] | undefined, b: any[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((s, i) => s?.name === y[i]?.name && (s?.resourceClaimName ?? null) === (y[i]?.resourceClaimName ?? null));
}

/** Dotted paths where two JSON values differ (upstream prints a cmp.Diff; the paths say the same in less space). */
function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return [path || '.'];
}

/**
 * admission.NewForbidden: `<resource>[.<group>] "<name>" is forbidden: <reason>`, the request's name, else the
 * object's (its generateName before one is made), else "Unknown", as upstream's extractResourceName.
 */
export function admissionForbidden(attrs: AdmissionAttributes, reason: string): StatusError {
  const def = attrs.resource;
  const meta = attrs.object?.metadata;
  const name = attrs.name || meta?.name || meta?.generateName || 'Unknown';
  const qualified = def.group ? `${def.plural}.${def.group}` : def.plural;
  return new StatusError({
    message: `${qualified} ${JSON.stringify(name)} is forbidden: ${reason}`,
    reason: 'Forbidden',
    code: 403,
    details: { name, ...(def.group ? { group: def.group } : {}), kind: def.plural },
  });
}
