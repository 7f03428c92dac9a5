/**
 * The pod rules kube-apiserver keeps in its pod REST storage: graceful deletion, the binding subresource (how the
 * scheduler assigns a node) and the streaming subresources (log, exec, attach, portforward, proxy) whose targets the
 * node agent provides.
 */
import type { PodSpec, PodStatus } from 'kubernetes-types/core/v1.js';

import { conflict, StatusError } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import type { DeletionRules, SubresourceDefinition } from './types.js';

export const podDeletion: DeletionRules = {
  /**
   * A pod bound to a node and not finished gets its terminationGracePeriodSeconds (or the period asked for) for the
   * node agent to stop it; unbound and finished pods go at once (upstream pod strategy CheckGracefulDelete).
   */
  gracePeriodSeconds(obj, requested) {
    const spec = (obj.spec ?? {}) as PodSpec;
    const phase = (obj.status as PodStatus | undefined)?.phase;
    if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
    return Math.max(0, requested ?? spec.terminationGracePeriodSeconds ?? 30);
  },
  returnsObject: true,
};

function invalidBinding(name: string, field: string, detail: string): StatusError {
  return new StatusError({
    message: `Binding "${name}" is invalid: ${field}: ${detail}`,
    reason: 'Invalid',
    code: 422,
    details: { name, kind: 'Binding', causes: [{ reason: 'FieldValueInvalid', message: detail, field }] },
  });
}

/** pods/binding: sets spec.nodeName once, and PodScheduled=True (upstream pod storage BindingREST.setPodHostAndAnnotations). */
export const podBinding: SubresourceDefinition = {
  name: 'binding',
  kind: 'Binding',
  verbs: ['create'],
  mutation: {
    method: 'POST',
    changesStatus: true,
    respond: 'created',
    apply(pod, body, { name, now }) {
      const target = body.target as { kind?: string; name?: string } | undefined;
      if (!target?.name) throw invalidBinding(name, 'target.name', 'Required value');
      if (target.kind && target.kind !== 'Node') throw invalidBinding(name, 'target.kind', `Unsupported value: "${target.kind}": supported values: "Node"`);
      const spec = (pod.spec ??= {}) as PodSpec;
      if (pod.metadata.deletionTimestamp) throw conflict({ resource: 'pods', name }, 'pod is being deleted, cannot be assigned to a host');
      if (spec.nodeName) throw conflict({ resource: 'pods', name }, `pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = target.name;
      const annotations = (body.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;
      if (annotations && typeof annotations === 'object') pod.metadata.annotations = { ...pod.metadata.annotations, ...annotations };
      const status = (pod.status ??= {}) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ??= []);
      const at = rfc3339(now);
      const existing = conditions.find((c) => c.type === 'PodScheduled');
      if (existing) Object.assign(existing, { status: 'True', lastTransitionTime: at, reason: undefined, message: undefined });
      else conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: at });
      return pod;
    },
  },
};

/** The streaming subresources as kube-apiserver lists them in discovery. */
export const podConnectSubresources: SubresourceDefinition[] = [
  { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  { name: 'log', kind: 'Pod', verbs: ['get'], connect: { methods: ['GET'] } },
  { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  { name: 'proxy', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'], connect: { methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] } },
];

/** nodes/proxy and services/proxy. */
export function proxySubresource(kind: string): SubresourceDefinition {
  return { name: 'proxy', kind, verbs: ['create', 'delete', 'get', 'patch', 'update'], connect: { methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] } };
}

