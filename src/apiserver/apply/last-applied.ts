/**
 * kubectl's move from client-side to server-side apply, as kube-apiserver's field manager supports it
 * (managedfields lastAppliedManager and lastAppliedUpdater, written from their documented behaviour):
 *
 * - `kubectl apply --server-side` (field manager `kubectl`, nothing else) on an object that carries kubectl's
 *   last-applied annotation may take over, without --force-conflicts, every conflicting field that the annotation
 *   lists: those are the fields the same user applied client-side. Any conflict outside them still fails.
 * - After such an apply the annotation is rewritten to the applied configuration, so a later client-side
 *   `kubectl apply` computes its three-way diff from what was applied last.
 */
import type { KubeObject } from '../../api/object.js';
import type { FieldConflict } from './apply.js';
import { fieldSetOf, isPlainObject, type NodeType } from './fieldpath.js';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** The only manager the upgrade applies to: users may opt out by naming another. */
export const KUBECTL_MANAGER = 'kubectl';

function lastAppliedOf(obj: KubeObject | undefined): Record<string, unknown> | undefined {
  const text = obj?.metadata?.annotations?.[LAST_APPLIED_ANNOTATION];
  if (typeof text !== 'string' || text === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    // An annotation that is not JSON allows nothing, as upstream's failed conversion does.
    return undefined;
  }
}

/** True when every conflict is a field the live object's last-applied configuration names. */
export function lastAppliedAllows(live: KubeObject | undefined, conflicts: readonly FieldConflict[], typeName: string | undefined, type?: NodeType): boolean {
  const lastApplied = lastAppliedOf(live);
  if (!lastApplied) return false;
  const allowed = fieldSetOf(lastApplied, typeName, type);
  return conflicts.every((c) => allowed.has(c.path));
}

/** When `live` had the annotation, `result` gets it rewritten to the applied configuration (JSON, without itself). */
export function syncLastApplied(live: KubeObject | undefined, applied: KubeObject, result: KubeObject): void {
  if (!live?.metadata?.annotations?.[LAST_APPLIED_ANNOTATION]) return;
  const config = { ...applied, metadata: { ...(applied.metadata ?? {}) } } as KubeObject;
  const annotations = { ...(config.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  if (Object.keys(annotations).length > 0) config.metadata.annotations = annotations;
  else delete config.metadata.annotations;
  result.metadata.annotations = { ...(result.metadata.annotations ?? {}), [LAST_APPLIED_ANNOTATION]: `${JSON.stringify(config)}\n` };
}
