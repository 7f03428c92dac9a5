/**
 * The pod rules kube-apiserver keeps in its pod REST storage: graceful deletion, the binding subresource (how the
 * scheduler assigns a node) and the streaming subresources (log, exec, attach, portforward, proxy) whose targets the
 * node agent provides.
 */
import type { EphemeralContainer, Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import { isPodTerminal } from '../../api/pod.js';
import type { KubeObject } from '../../api/object.js';

import { conflict, fieldDuplicate, fieldForbidden, fieldNotFound, fieldRequired, StatusError, type FieldError } from '../../api/status.js';
import { deepEqual } from '../../api/validation.js';
import { defaultImagePullPolicy } from './pod-spec.js';
import { rfc3339 } from '../../api/time.js';
import type { DeletionRules, SubresourceDefinition } from './types.js';

export const podDeletion: DeletionRules = {
  /**
   * A pod bound to a node and not finished gets its terminationGracePeriodSeconds (or the period asked for) for the
   * node agent to stop it; unbound and finished pods go at once (upstream pod strategy CheckGracefulDelete).
   */
  gracePeriodSeconds(obj, requested) {
    const spec = (obj.spec ?? {}) as PodSpec;
    if (!spec.nodeName || isPodTerminal(obj as Pod)) return 0;
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
  // The mutation checks what a binding may do; only it may set spec.nodeName.
  validateUpdate: () => [],
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

/** Fields an ephemeral container may not set (upstream validateEphemeralContainers). */
const EPHEMERAL_FORBIDDEN = ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'resources'] as const;

function ephemeralOf(obj: KubeObject): EphemeralContainer[] {
  return ((obj.spec ?? {}) as PodSpec).ephemeralContainers ?? [];
}

/**
 * Ephemeral containers may only be added (upstream ValidatePodEphemeralContainersUpdate): existing ones stay as they
 * are, names are unique among all of the pod's containers, and what only a long-lived container may have is refused.
 */
function validateEphemeralUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (next.spec ?? {}) as PodSpec;
  const now = ephemeralOf(next);
  const before = new Map(ephemeralOf(old).map((c) => [c.name, c]));
  for (const [name, c] of before) {
    const i = now.findIndex((n) => n.name === name);
    if (i < 0) errs.push(fieldForbidden('spec.ephemeralContainers', `existing ephemeral containers "${name}" may not be removed`));
    else if (!deepEqual(now[i], c)) errs.push(fieldForbidden(`spec.ephemeralContainers[${i}]`, `existing ephemeral containers "${name}" may not be changed`));
  }
  const names = new Set([...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name));
  const targets = new Set(names);
  now.forEach((c, i) => {
    const path = `spec.ephemeralContainers[${i}]`;
    if (before.has(c.name)) return;
    if (!c.name) errs.push(fieldRequired(`${path}.name`));
    else if (names.has(c.name)) errs.push(fieldDuplicate(`${path}.name`, c.name));
    if (c.name) names.add(c.name);
    if (!c.image) errs.push(fieldRequired(`${path}.image`));
    for (const f of EPHEMERAL_FORBIDDEN) {
      if (c[f] !== undefined && !(f === 'resources' && Object.keys(c.resources ?? {}).length === 0)) {
        errs.push(fieldForbidden(`${path}.${f}`, 'cannot be set for an Ephemeral Container'));
      }
    }
    if (c.targetContainerName && !targets.has(c.targetContainerName)) errs.push(fieldNotFound(`${path}.targetContainerName`, c.targetContainerName));
  });
  return errs;
}

/**
 * pods/ephemeralcontainers: `kubectl debug` adds a container to a running pod by patching the pod through it; only
 * spec.ephemeralContainers changes (new ones get the container defaults).
 */
export const podEphemeralContainers: SubresourceDefinition = {
  name: 'ephemeralcontainers',
  kind: 'Pod',
  verbs: ['get', 'patch', 'update'],
  view: {
    apply(current, written) {
      const next = structuredClone(current);
      const added = ((written.spec ?? {}) as PodSpec).ephemeralContainers;
      const spec = (next.spec ??= {}) as PodSpec;
      if (added && added.length > 0) {
        spec.ephemeralContainers = structuredClone(added);
        for (const c of spec.ephemeralContainers) {
          c.imagePullPolicy ??= defaultImagePullPolicy(c.image);
          c.terminationMessagePath ??= '/dev/termination-log';
          c.terminationMessagePolicy ??= 'File';
        }
      } else {
        delete spec.ephemeralContainers;
      }
      return next;
    },
  },
  validateUpdate: validateEphemeralUpdate,
};

/** The streaming subresources as kube-apiserver lists them in discovery. */
export const podConnectSubresources: SubresourceDefinition[] = [
  { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  { name: 'log', kind: 'Pod', verbs: ['get'], connect: { methods: ['GET'] } },
  { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'], connect: { methods: ['GET', 'POST'] } },
  proxySubresource('PodProxyOptions', { schemeNamePort: true }),
];

/**
 * pods/proxy, nodes/proxy and services/proxy. Pods and services are addressed as `name`, `name:port` or
 * `scheme:name:port` (pod.ResourceLocation, service ResourceLocation); nodes/proxy goes to the node's agent by name.
 */
export function proxySubresource(kind: string, opts: { schemeNamePort?: boolean } = {}): SubresourceDefinition {
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  return { name: 'proxy', kind, verbs: ['create', 'delete', 'get', 'patch', 'update'], connect: opts.schemeNamePort ? { methods, schemeNamePort: true } : { methods } };
}

