/** core/v1 Nodes: taint validation and the STATUS/ROLES/VERSION table (`Ready,SchedulingDisabled`). */
import type { Node, NodeSpec } from 'kubernetes-types/core/v1.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isQualifiedName, isValidLabelValue, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { proxySubresource } from './pod-rules.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Roles from `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` value, sorted. */
export function nodeRoles(node: Node): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort();
}

function nodeStatus(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const status = ready ? [ready.status === 'True' ? 'Ready' : 'NotReady'] : ['Unknown'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  return status.join(',');
}

function nodeAddress(node: Node, type: string): string {
  return node.status?.addresses?.find((a) => a.type === type)?.address ?? '<none>';
}

export const nodes = defineResource({
  group: '',
  version: 'v1',
  kind: 'Node',
  plural: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.Node',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  // The node agent registers its Node with the status it measured (kubelet's initial node status).
  keepsStatusOnCreate: true,
  subresources: [proxySubresource('NodeProxyOptions')],
  validateSpec(obj) {
    const errs: FieldError[] = [];
    ((obj.spec as NodeSpec | undefined)?.taints ?? []).forEach((t, i) => {
      const tp = `spec.taints[${i}]`;
      if (!t.key) errs.push(fieldRequired(`${tp}.key`));
      else for (const msg of isQualifiedName(t.key)) errs.push(fieldInvalid(`${tp}.key`, t.key, msg));
      if (t.value) for (const msg of isValidLabelValue(t.value)) errs.push(fieldInvalid(`${tp}.value`, t.value, msg));
      if (!t.effect) errs.push(fieldRequired(`${tp}.effect`));
      else if (!taintEffects.includes(t.effect)) errs.push(fieldNotSupported(`${tp}.effect`, t.effect, taintEffects));
    });
    return errs;
  },
  validateSpecUpdate(obj, old) {
    // ValidateNodeUpdate: podCIDR(s) and providerID may be set once, from empty, never changed.
    const next = (obj.spec ?? {}) as NodeSpec;
    const prev = (old.spec ?? {}) as NodeSpec;
    const errs: FieldError[] = [];
    const cidrs = (s: NodeSpec) => s.podCIDRs ?? (s.podCIDR ? [s.podCIDR] : []);
    if (cidrs(prev).length > 0 && JSON.stringify(cidrs(next)) !== JSON.stringify(cidrs(prev))) {
      errs.push(fieldForbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
    }
    if (prev.providerID && next.providerID !== prev.providerID) {
      errs.push(fieldForbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
    }
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Status', 'The status of the node'),
      column('Roles', 'The roles of the node'),
      ageColumn,
      column('Version', 'Kubelet Version reported by the node.'),
      column('Internal-IP', 'List of addresses reachable to the node.', { priority: 1 }),
      column('External-IP', 'List of addresses reachable to the node.', { priority: 1 }),
      column('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', { priority: 1 }),
      column('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", { priority: 1 }),
      column('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', { priority: 1 }),
    ],
    row(obj, now) {
      const node = as<Node>(obj);
      const info = node.status?.nodeInfo;
      const roles = nodeRoles(node);
      return [
        obj.metadata.name ?? '',
        nodeStatus(node),
        roles.length > 0 ? roles.join(',') : '<none>',
        age(obj, now),
        info?.kubeletVersion ?? '',
        nodeAddress(node, 'InternalIP'),
        nodeAddress(node, 'ExternalIP'),
        info?.osImage || '<unknown>',
        info?.kernelVersion || '<unknown>',
        info?.containerRuntimeVersion || '<unknown>',
      ];
    },
  },
  fieldSelectors: {
    'spec.unschedulable': (o) => String(as<Node>(o).spec?.unschedulable === true),
  },
});
