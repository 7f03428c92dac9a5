/**
 * The Node labels a node may not set on itself (k8s plugin/pkg/admission/noderestriction with kubeletapis.IsKubeletLabel):
 * labels under node-restriction.kubernetes.io/, and kubernetes.io / k8s.io labels the kubelet does not set. The
 * NodeRestriction admission plugin refuses them on a node's own writes; `--node-label` refuses them at flag parsing,
 * as kubelet does at start. Vocabulary only, so the agent checks its flags without loading the API server.
 */
const NODE_RESTRICTION_LABEL_NAMESPACE = 'node-restriction.kubernetes.io';

/** kubeletapis.IsKubeletLabel: the kubernetes.io labels a kubelet may set on its own Node. */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

function labelNamespace(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return ns === 'kubernetes.io' || ns.endsWith('.kubernetes.io') || ns === 'k8s.io' || ns.endsWith('.k8s.io');
}

function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.has(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((allowed) => ns === allowed || ns.endsWith(`.${allowed}`));
}

/** The labels a node may not add, remove or change; sorted, as upstream's sets.String.List(). */
export function forbiddenLabels(keys: string[]): string[] {
  return keys
    .filter((k) => {
      const ns = labelNamespace(k);
      if (ns === NODE_RESTRICTION_LABEL_NAMESPACE || ns.endsWith(`.${NODE_RESTRICTION_LABEL_NAMESPACE}`)) return true;
      return isKubernetesLabel(k) && !isKubeletLabel(k);
    })
    .sort();
}
