/**
 * Pure helpers of the PV binder and the local-path provisioner: the annotation and finalizer names Kubernetes uses,
 * the class a claim asks for, and the volume-to-claim matching of pv_controller.go / pv_util.go (FindMatchingVolume).
 */
import type { NodeSelector, NodeSelectorRequirement, PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { KubeObject } from '../../api/object.js';
import { labelSelectorFromObject, matches, requirementMatches, type LabelOperator, type LabelSelector } from '../../api/labels.js';
import { compareQuantities, parseQuantity, tryParseQuantity, type Quantity } from '../../api/quantity.js';
import { ANN_BETA_DEFAULT_CLASS, ANN_BETA_STORAGE_CLASS, ANN_DEFAULT_CLASS, defaultStorageClass, isDefaultStorageClass } from '../../api/storage-class.js';

export type PV = PersistentVolume & KubeObject;
export type PVC = PersistentVolumeClaim & KubeObject;
export type SC = StorageClass & KubeObject;

export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
export const ANN_DYNAMICALLY_PROVISIONED = 'pv.kubernetes.io/provisioned-by';
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export { ANN_BETA_STORAGE_CLASS, ANN_DEFAULT_CLASS, ANN_BETA_DEFAULT_CLASS };
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export const isDefaultClass: (sc: SC) => boolean = isDefaultStorageClass;

/** The default class (the newest of several, as upstream's GetDefaultClass picks since 1.26), or undefined. */
export function defaultClass(classes: readonly SC[]): SC | undefined {
  return defaultStorageClass(classes);
}

/**
 * The class a claim asks for (GetPersistentVolumeClaimClass): the beta annotation, else spec.storageClassName. A
 * claim that leaves storageClassName unset gets the default class, as the DefaultStorageClass admission plugin and
 * the retroactive default assignment would give it upstream; `""` explicitly means no class.
 */
export function claimClass(claim: PVC, defaultClassName: string | undefined): string {
  const ann = claim.metadata.annotations?.[ANN_BETA_STORAGE_CLASS];
  if (ann !== undefined) return ann;
  if (claim.spec?.storageClassName !== undefined && claim.spec.storageClassName !== null) return claim.spec.storageClassName;
  return defaultClassName ?? '';
}

export function volumeClass(pv: PV): string {
  return pv.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? pv.spec?.storageClassName ?? '';
}

export function claimRequest(claim: PVC): Quantity {
  return tryParseQuantity(String(claim.spec?.resources?.requests?.storage ?? '0')) ?? parseQuantity('0');
}

export function volumeCapacity(pv: PV): Quantity {
  return tryParseQuantity(String(pv.spec?.capacity?.storage ?? '0')) ?? parseQuantity('0');
}

/** IsVolumeBoundToClaim: the PV's claimRef names this claim (and its UID, once set). */
export function isVolumeBoundToClaim(pv: PV, claim: PVC): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

const operators: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!', Gt: 'gt', Lt: 'lt' };

function requirementHolds(r: NodeSelectorRequirement, fields: Record<string, string>): boolean {
  const op = operators[r.operator];
  if (!op) return false;
  return requirementMatches({ key: r.key, operator: op, values: [...(r.values ?? [])] }, fields);
}

/** A node selector (ORed terms of ANDed requirements; an empty term matches nothing) against a node's labels and name. */
export function nodeSelectorMatches(selector: NodeSelector, nodeName: string, labels: Record<string, string>): boolean {
  for (const term of selector.nodeSelectorTerms ?? []) {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length + fields.length === 0) continue;
    if (exprs.every((r) => requirementHolds(r, labels)) && fields.every((r) => r.key === 'metadata.name' && requirementHolds(r, { 'metadata.name': nodeName }))) return true;
  }
  return false;
}

/** CheckNodeAffinity: a PV without required node affinity fits every node. */
export function volumeFitsNode(pv: PV, nodeName: string, labels: Record<string, string>): boolean {
  const required = pv.spec?.nodeAffinity?.required;
  return !required || nodeSelectorMatches(required, nodeName, labels);
}

/** Why a volume's modes cannot serve the claim: the PV must offer every mode the claim asks for. */
function accessModesFit(pv: PV, claim: PVC): boolean {
  const offered = new Set(pv.spec?.accessModes ?? []);
  return (claim.spec?.accessModes ?? []).every((m) => offered.has(m));
}

export interface MatchOptions {
  /** The claim's class (claimClass). */
  className: string;
  /** The class binds only once a pod is scheduled (WaitForFirstConsumer). */
  delayBinding: boolean;
  /** The selected node, for WaitForFirstConsumer claims whose pod has been scheduled. */
  node?: { name: string; labels: Record<string, string> };
}

/**
 * FindMatchingVolume: a volume pre-bound to the claim wins (if it fits at all); otherwise the smallest Available
 * volume of the claim's class whose capacity, access modes, volume mode, labels (claim selector) and node affinity
 * fit. Unbound volumes are not considered for a delayed-binding claim until a node is selected.
 */
export function findMatchingVolume(claim: PVC, volumes: readonly PV[], opts: MatchOptions): PV | undefined {
  const request = claimRequest(claim);
  let selector: LabelSelector | undefined;
  try {
    selector = claim.spec?.selector ? labelSelectorFromObject(claim.spec.selector) : undefined;
  } catch {
    return undefined; // a selector that does not parse selects no volume
  }
  const claimMode = claim.spec?.volumeMode ?? 'Filesystem';
  let best: PV | undefined;
  for (const pv of volumes) {
    if (pv.spec?.claimRef && !isVolumeBoundToClaim(pv, claim)) continue;
    if (compareQuantities(volumeCapacity(pv), request) < 0) continue;
    if ((pv.spec?.volumeMode ?? 'Filesystem') !== claimMode) continue;
    if (pv.metadata.deletionTimestamp) continue;
    const fitsNode = !opts.node || volumeFitsNode(pv, opts.node.name, opts.node.labels);
    if (isVolumeBoundToClaim(pv, claim)) return fitsNode ? pv : undefined;
    if (!opts.node && opts.delayBinding) continue;
    if (pv.status?.phase !== 'Available') continue;
    if (selector && !matches(selector, pv.metadata.labels ?? {})) continue;
    if (volumeClass(pv) !== opts.className) continue;
    if (!fitsNode) continue;
    if (!accessModesFit(pv, claim)) continue;
    if (!best || compareQuantities(volumeCapacity(best), volumeCapacity(pv)) > 0) best = pv;
  }
  return best;
}
