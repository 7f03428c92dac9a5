/**
 * DefaultTolerationSeconds, the admission rule upstream keeps in the API server
 * (plugin/pkg/admission/defaulttolerationseconds): a new pod that does not already tolerate
 * node.kubernetes.io/not-ready or node.kubernetes.io/unreachable (NoExecute) gets a toleration for it with
 * tolerationSeconds from --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds (300).
 * So pods leave a failed node after five minutes and their controllers recreate them elsewhere.
 */
import type { Toleration } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import type { ControllerOptions } from '../controller.js';
import { TAINT_NOT_READY, TAINT_UNREACHABLE } from './taints.js';

/**
 * Returns a copy of the pod with the default tolerations added where missing; the pod passed in is not changed.
 * A toleration counts as present when it names the key (or no key) and the NoExecute effect (or no effect), as
 * upstream checks it.
 */
export function addDefaultTolerations<P extends { spec?: { tolerations?: readonly Toleration[] } }>(
  pod: P,
  options: Pick<ControllerOptions, 'defaultNotReadyTolerationSeconds' | 'defaultUnreachableTolerationSeconds'>,
): P {
  const copy = structuredClone(pod);
  const tolerations = (copy.spec?.tolerations ?? []) as Mutable<Toleration>[];
  const tolerates = (key: string) => tolerations.some((t) => (!t.key || t.key === key) && (!t.effect || t.effect === 'NoExecute'));
  const added: Mutable<Toleration>[] = [];
  if (!tolerates(TAINT_NOT_READY)) {
    added.push({ key: TAINT_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: options.defaultNotReadyTolerationSeconds });
  }
  if (!tolerates(TAINT_UNREACHABLE)) {
    added.push({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: options.defaultUnreachableTolerationSeconds });
  }
  if (added.length > 0) {
    const spec = ((copy as { spec?: { tolerations?: Toleration[] } }).spec ??= {});
    spec.tolerations = [...tolerations, ...added];
  }
  return copy;
}
