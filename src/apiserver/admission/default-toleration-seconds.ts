/**
 * DefaultTolerationSeconds admission: every new pod tolerates node.kubernetes.io/not-ready and
 * node.kubernetes.io/unreachable (NoExecute) for a bounded time (kube-apiserver default 300 s), unless it already
 * has a toleration for that taint. So pods leave a failed node after that time, and their controllers replace them.
 */
import type { KubeObject } from '../../api/object.js';
import { isCoreResource, type MutatingAdmission } from './types.js';

interface Toleration {
  key?: string;
  operator?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export function defaultTolerationSeconds(notReadySeconds: number, unreachableSeconds: number): MutatingAdmission {
  return {
    name: 'DefaultTolerationSeconds',
    operations: ['CREATE'],
    handles: (attrs) => isCoreResource(attrs, 'pods') && attrs.subresource === '',
    admit(attrs) {
      const obj: KubeObject = attrs.object!;
      const spec = (obj.spec ??= {}) as { tolerations?: Toleration[] };
      const tolerations = (spec.tolerations ??= []);
      // Upstream skips a taint when a toleration already covers it: that key or an empty key, NoExecute or any effect.
      const tolerates = (key: string) => tolerations.some((t) => (t.key === key || !t.key) && (!t.effect || t.effect === 'NoExecute'));
      if (!tolerates('node.kubernetes.io/not-ready')) {
        tolerations.push({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: notReadySeconds });
      }
      if (!tolerates('node.kubernetes.io/unreachable')) {
        tolerations.push({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: unreachableSeconds });
      }
    },
  };
}
