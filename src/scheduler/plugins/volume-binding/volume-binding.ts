/**
 * VolumeBinding (pkg/scheduler/framework/plugins/volumebinding, reduced): pods that use PersistentVolumeClaims go
 * where their volumes can be.
 *
 *   PreFilter  no claims: Skip. A missing claim, a claim being deleted, or an unbound claim of an Immediate class:
 *              the pod is unschedulable everywhere ("pod has unbound immediate PersistentVolumeClaims", upstream's
 *              words). Bound claims' PVs and unbound WaitForFirstConsumer claims go into the cycle state.
 *   Filter     a bound PV's required node affinity must match the node ("node(s) had volume node affinity
 *              conflict"); an unbound WaitForFirstConsumer claim needs, on this node, an Available PV that fits
 *              (class, size, modes, node affinity) or a class with a provisioner (local-path provisions on any node);
 *              a claim already promised to another node (selected-node) rules the others out.
 *   Reserve    remembers the node for the pod's unbound claims, so the next pods that share them follow before the
 *              annotation is seen.
 *   Bind       runs before DefaultBinder and always returns Skip, acting as upstream's PreBind (which skiff's framework
 *              does not have): writes `volume.kubernetes.io/selected-node` on each unbound claim. It does not wait for
 *              the claims to bind (upstream waits up to bindTimeoutSeconds): the pod is bound at once and the node
 *              agent waits for the claim (a non-permanent VolumeError, retried) while the provisioner and the PV
 *              binder do their part.
 *
 * The PVC, PV and StorageClass listers come from the scheduler's informer factory; without them (framework unit
 * tests) the plugin skips every pod.
 */
import type { NodeSelector, NodeSelectorRequirement, PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { requirementMatches, type LabelOperator } from '../../../api/labels.js';
import { compareQuantities, parseQuantity, tryParseQuantity } from '../../../api/quantity.js';
import { PersistentVolumeClaims, PersistentVolumes, StorageClasses } from '../../../client/resources.js';
import type { InformerFactory, Lister } from '../../../client/types.js';
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { ActionType, type BindPlugin, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin, type Handle, type PreFilterPlugin, type ReservePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { Status, type Result } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';

type PV = PersistentVolume & KubeObject;
type PVC = PersistentVolumeClaim & KubeObject;
type SC = StorageClass & KubeObject;

export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const errReasonUnboundImmediate = 'pod has unbound immediate PersistentVolumeClaims';
export const errReasonNodeConflict = 'node(s) had volume node affinity conflict';
export const errReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
const NO_PROVISIONER = 'kubernetes.io/no-provisioner';
const stateKey = 'PreFilter' + names.VolumeBinding;

export interface VolumeListers {
  claims: Lister<PVC>;
  volumes: Lister<PV>;
  classes: Lister<SC>;
}

/** The listers from an informer factory (the scheduler's), which lists and watches the three types once started. */
export function volumeListersFrom(informers: InformerFactory): VolumeListers {
  return {
    claims: informers.informerFor<PVC>(PersistentVolumeClaims).lister,
    volumes: informers.informerFor<PV>(PersistentVolumes).lister,
    classes: informers.informerFor<SC>(StorageClasses).lister,
  };
}

interface DelayedClaim {
  claim: PVC;
  className: string;
  sc: SC | undefined;
}

class PodVolumes implements StateData {
  constructor(
    readonly boundVolumes: PV[],
    readonly delayed: DelayedClaim[],
  ) {}
  clone(): StateData {
    return this;
  }
}

const operators: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!', Gt: 'gt', Lt: 'lt' };

function requirementHolds(r: NodeSelectorRequirement, fields: Record<string, string>): boolean {
  const op = operators[r.operator];
  return !!op && requirementMatches({ key: r.key, operator: op, values: [...(r.values ?? [])] }, fields);
}

/** CheckNodeAffinity: ORed terms of ANDed requirements (matchFields: metadata.name only); no affinity fits all. */
export function volumeFitsNode(pv: PV, nodeName: string, labels: Record<string, string>): boolean {
  const required: NodeSelector | undefined = pv.spec?.nodeAffinity?.required;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => {
    const exprs = t.matchExpressions ?? [];
    const fields = t.matchFields ?? [];
    return exprs.length + fields.length > 0 && exprs.every((r) => requirementHolds(r, labels)) && fields.every((r) => r.key === 'metadata.name' && requirementHolds(r, { 'metadata.name': nodeName }));
  });
}

function isDefault(sc: SC): boolean {
  const a = sc.metadata.annotations ?? {};
  return a['storageclass.kubernetes.io/is-default-class'] === 'true' || a['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
}

export class VolumeBinding implements PreFilterPlugin, FilterPlugin, ReservePlugin, BindPlugin, EnqueueExtensions {
  readonly name = names.VolumeBinding;
  /** Claim key -> node, from Reserve until the claim shows the selected-node annotation (or Unreserve). */
  private readonly assumed = new Map<string, string>();

  constructor(
    private readonly handle: Handle,
    private readonly listers: VolumeListers | undefined,
  ) {}

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const claimNames = (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));
    if (claimNames.length === 0 || !this.listers) return Status.skip();
    const ns = pod.metadata.namespace ?? 'default';
    const bound: PV[] = [];
    const delayed: DelayedClaim[] = [];
    for (const name of claimNames) {
      const claim = this.listers.claims.get(ns, name);
      if (!claim) return Status.unresolvable(`persistentvolumeclaim ${JSON.stringify(name)} not found`);
      if (claim.metadata.deletionTimestamp) return Status.unresolvable(`persistentvolumeclaim ${JSON.stringify(name)} is being deleted`);
      const volumeName = claim.spec?.volumeName;
      if (volumeName) {
        const pv = this.listers.volumes.get('', volumeName);
        if (!pv) return Status.unresolvable('pvc(s) bound to non-existent pv(s)');
        bound.push(pv);
        continue;
      }
      const className = this.claimClass(claim);
      const sc = className ? this.listers.classes.get('', className) : undefined;
      if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') return Status.unresolvable(errReasonUnboundImmediate);
      delayed.push({ claim, className, sc });
    }
    state.write(stateKey, new PodVolumes(bound, delayed));
    return undefined;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Result {
    const s = state.read<PodVolumes>(stateKey);
    if (!s) return undefined;
    const labels = nodeInfo.node?.metadata.labels ?? {};
    for (const pv of s.boundVolumes) if (!volumeFitsNode(pv, nodeInfo.name, labels)) return Status.unresolvable(errReasonNodeConflict);
    for (const d of s.delayed) {
      const promised = d.claim.metadata.annotations?.[ANN_SELECTED_NODE] ?? this.assumed.get(claimKey(d.claim));
      if (promised !== undefined && promised !== nodeInfo.name) return Status.unresolvable(errReasonBindConflict);
      if (this.hasMatchingVolume(d, nodeInfo.name, labels)) continue;
      if (d.sc?.provisioner && d.sc.provisioner !== NO_PROVISIONER) continue;
      return Status.unresolvable(errReasonBindConflict);
    }
    return undefined;
  }

  reserve(state: CycleState, _pod: Pod, nodeName: string): Result {
    for (const d of state.read<PodVolumes>(stateKey)?.delayed ?? []) this.assumed.set(claimKey(d.claim), nodeName);
    return undefined;
  }

  unreserve(state: CycleState, _pod: Pod, nodeName: string): void {
    for (const d of state.read<PodVolumes>(stateKey)?.delayed ?? []) {
      const k = claimKey(d.claim);
      if (this.assumed.get(k) === nodeName && !d.claim.metadata.annotations?.[ANN_SELECTED_NODE]) this.assumed.delete(k);
    }
  }

  /** PreBind's work: the selected node on every unbound claim; then Skip, so the next bind plugin binds the pod. */
  async bind(state: CycleState, _pod: Pod, nodeName: string): Promise<Result> {
    const s = state.read<PodVolumes>(stateKey);
    const client = this.handle.client;
    for (const d of s?.delayed ?? []) {
      if (d.claim.metadata.annotations?.[ANN_SELECTED_NODE] === nodeName) continue;
      if (!client) return Status.error('VolumeBinding needs a client to annotate claims');
      try {
        await client.patch(PersistentVolumeClaims, d.claim.metadata.namespace ?? '', d.claim.metadata.name ?? '', 'merge', { metadata: { annotations: { [ANN_SELECTED_NODE]: nodeName } } });
      } catch (err) {
        return Status.error(`binding volumes: ${(err as Error).message}`);
      } finally {
        this.assumed.delete(claimKey(d.claim));
      }
    }
    return Status.skip();
  }

  eventsToRegister(): ClusterEventWithHint[] {
    // PVC, PV and StorageClass events are not cluster events in skiff's scheduler yet: a pod rejected for its
    // claims is retried on node changes, and at the latest by the unschedulable pool's periodic flush.
    return [{ event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel } }];
  }

  private claimClass(claim: PVC): string {
    const ann = claim.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'];
    if (ann !== undefined) return ann;
    if (claim.spec?.storageClassName !== undefined && claim.spec.storageClassName !== null) return claim.spec.storageClassName;
    // Unset: the default class, as admission would have set it upstream (and skiff's PV binder assumes).
    return this.listers!.classes.list().filter(isDefault).sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))[0]?.metadata.name ?? '';
  }

  /** An Available PV of the claim's class that fits the claim and this node (FindMatchingVolume with a node). */
  private hasMatchingVolume(d: DelayedClaim, nodeName: string, labels: Record<string, string>): boolean {
    const request = tryParseQuantity(String(d.claim.spec?.resources?.requests?.storage ?? '0')) ?? parseQuantity('0');
    const modes = d.claim.spec?.accessModes ?? [];
    const mode = d.claim.spec?.volumeMode ?? 'Filesystem';
    for (const pv of this.listers!.volumes.list()) {
      const ref = pv.spec?.claimRef;
      const preBound = ref && ref.name === d.claim.metadata.name && ref.namespace === d.claim.metadata.namespace && (!ref.uid || ref.uid === d.claim.metadata.uid);
      if (ref && !preBound) continue;
      if (!preBound && (pv.status?.phase !== 'Available' || (pv.spec?.storageClassName ?? '') !== d.className)) continue;
      if (pv.metadata.deletionTimestamp || (pv.spec?.volumeMode ?? 'Filesystem') !== mode) continue;
      if (compareQuantities(tryParseQuantity(String(pv.spec?.capacity?.storage ?? '0')) ?? parseQuantity('0'), request) < 0) continue;
      if (!modes.every((m) => (pv.spec?.accessModes ?? []).includes(m))) continue;
      if (volumeFitsNode(pv, nodeName, labels)) return true;
    }
    return false;
  }
}

function claimKey(c: PVC): string {
  return `${c.metadata.namespace}/${c.metadata.name}`;
}
