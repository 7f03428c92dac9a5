/**
 * The PersistentVolume binder (upstream pkg/controller/volume/persistentvolume/pv_controller.go, reduced), with the
 * pvc-protection and pv-protection finalizers (pkg/controller/volume/pvcprotection, pvprotection) folded in.
 *
 * Claims: an unbound claim is bound to the smallest matching Available volume (class, access modes, capacity,
 * selector, volume mode), or to a volume pre-bound to it. A claim of a WaitForFirstConsumer class waits (Pending,
 * event WaitForFirstConsumer) until the scheduler writes `volume.kubernetes.io/selected-node`; then a volume whose
 * node affinity fits that node is bound, or, for a class with a provisioner, the claim is annotated
 * `volume.kubernetes.io/storage-provisioner` for that provisioner (skiff's local-path controller) to create one.
 * A bound claim whose volume disappears is Lost.
 *
 * Volumes: Available without claimRef; Bound while their claim is bound to them; Released when the claim is gone,
 * then reclaimed by policy: Retain keeps it Released; Delete is the provisioner's job (for `skiff.dev/local-path`
 * volumes the node agent's reclaimer removes the data, then the volume), Failed for other volumes (no deleter).
 *
 * Binding writes, in upstream's order: PV claimRef (+ bound-by-controller), PV status Bound, claim volumeName
 * (+ bind-completed, bound-by-controller), claim status Bound with the volume's capacity and access modes. Each step
 * is skipped when already done, so an interrupted binding completes at the next sync.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { Nodes, PersistentVolumeClaims, PersistentVolumes, Pods, StorageClasses } from '../../client/resources.js';
import type { EventRecorder, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_DYNAMICALLY_PROVISIONED,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  defaultClass,
  findMatchingVolume,
  HOSTNAME_LABEL,
  isVolumeBoundToClaim,
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
  type PV,
  type PVC,
  type SC,
} from './volume-util.js';

/** The provisioner whose Delete-policy volumes are reclaimed by the node agents (src/agent/volumes). */
export const LOCAL_PATH_PROVISIONER = 'skiff.dev/local-path';
/** Upstream's marker for classes without dynamic provisioning (local volumes). */
const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

type PodObj = Pod & KubeObject;

const clone = <T>(o: T): Mutable<T> => structuredClone(o) as Mutable<T>;

export class PersistentVolumeController implements Controller {
  readonly name = 'persistentvolume-binder';
  private readonly queue: WorkQueue;
  private readonly claims: Lister<PVC>;
  private readonly volumes: Lister<PV>;
  private readonly classes: Lister<SC>;
  private readonly nodes: Lister;
  private readonly pods: Lister<PodObj>;
  private readonly recorder: EventRecorder;
  /** Claims already told why they wait (one event per claim and reason, not one per sync). */
  private readonly told = new Map<string, string>();

  constructor(private readonly ctx: ControllerContext) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.claims = ctx.informers.informerFor<PVC>(PersistentVolumeClaims).lister;
    this.volumes = ctx.informers.informerFor<PV>(PersistentVolumes).lister;
    this.classes = ctx.informers.informerFor<SC>(StorageClasses).lister;
    this.nodes = ctx.informers.informerFor(Nodes).lister;
    this.pods = ctx.informers.informerFor<PodObj>(Pods).lister;
    this.recorder = ctx.recorder('persistentvolume-controller');
  }

  start(): void {
    const claim = (c: PVC) => this.queue.add(`claim/${keyOf(c)}`);
    const volume = (name: string) => this.queue.add(`volume/${name}`);
    this.ctx.informers.informerFor<PVC>(PersistentVolumeClaims).addEventHandler({
      add: claim,
      update: (_o, c) => claim(c),
      delete: (c) => {
        this.told.delete(keyOf(c));
        // Its volume is released now.
        if (c.spec?.volumeName) volume(c.spec.volumeName);
        for (const pv of this.volumes.list()) if (isVolumeBoundToClaim(pv, c)) volume(pv.metadata.name ?? '');
      },
    });
    const onVolume = (pv: PV) => {
      volume(pv.metadata.name ?? '');
      const ref = pv.spec?.claimRef;
      if (ref?.name) this.queue.add(`claim/${ref.namespace ?? ''}/${ref.name}`);
    };
    this.ctx.informers.informerFor<PV>(PersistentVolumes).addEventHandler({ add: onVolume, update: (_o, pv) => onVolume(pv), delete: onVolume });
    // A class appearing (the default one, or the one a claim names) lets pending claims proceed.
    const pending = () => {
      for (const c of this.claims.list()) if (!c.spec?.volumeName) claim(c);
    };
    this.ctx.informers.informerFor<SC>(StorageClasses).addEventHandler({ add: pending, update: pending });
    // pvc-protection: a claim being deleted waits for the pods that use it.
    const podGone = (p: PodObj) => {
      for (const v of p.spec?.volumes ?? []) {
        if (v.persistentVolumeClaim) this.queue.add(`claim/${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`);
      }
    };
    this.ctx.informers.informerFor<PodObj>(Pods).addEventHandler({
      delete: podGone,
      update: (o, p) => {
        if (isTerminal(p) && !isTerminal(o)) podGone(p);
      },
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.sync(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async sync(key: string): Promise<void> {
    try {
      if (key.startsWith('claim/')) {
        const { namespace, name } = splitKey(key.slice('claim/'.length));
        await this.syncClaim(namespace, name);
      } else if (key.startsWith('volume/')) {
        await this.syncVolume(key.slice('volume/'.length));
      }
    } catch (err) {
      // Claim and volume syncs write the same objects (a binding touches both): a conflict only means our copy was
      // stale. Retry after the informer catches up, without logging it as a failure.
      if (!isConflict(err)) throw err;
      this.queue.addAfter(key, 50);
    }
  }

  // ---- claims

  async syncClaim(namespace: string, name: string): Promise<void> {
    let claim = this.claims.get(namespace, name);
    if (!claim) return;
    if (claim.metadata.deletionTimestamp) {
      await this.releaseClaimFinalizer(claim);
      return;
    }
    claim = await this.ensureFinalizer(claim);
    if (!claim.spec?.volumeName) await this.syncUnboundClaim(claim);
    else await this.syncBoundClaim(claim);
  }

  private async ensureFinalizer(claim: PVC): Promise<PVC> {
    if (claim.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return claim;
    // Upstream's StorageObjectInUseProtection admission plugin adds it at creation; skiff's controller does.
    const next = clone(claim);
    next.metadata.finalizers = [...(next.metadata.finalizers ?? []), PVC_PROTECTION_FINALIZER];
    return (await this.ctx.client.update(PersistentVolumeClaims, claim.metadata.namespace ?? '', next)) as PVC;
  }

  private async releaseClaimFinalizer(claim: PVC): Promise<void> {
    if (!claim.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return;
    const name = claim.metadata.name;
    const inUse = this.pods.list(claim.metadata.namespace ?? '').some((p) => !isTerminal(p) && (p.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === name));
    if (inUse) return;
    const next = clone(claim);
    next.metadata.finalizers = next.metadata.finalizers!.filter((f) => f !== PVC_PROTECTION_FINALIZER);
    try {
      await this.ctx.client.update(PersistentVolumeClaims, claim.metadata.namespace ?? '', next);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private classFor(claim: PVC): { className: string; sc: SC | undefined } {
    const className = claimClass(claim, defaultClass(this.classes.list())?.metadata.name);
    return { className, sc: className ? this.classes.get('', className) : undefined };
  }

  private async syncUnboundClaim(claim: PVC): Promise<void> {
    const { className, sc } = this.classFor(claim);
    const delay = sc?.volumeBindingMode === 'WaitForFirstConsumer';
    const selectedNode = claim.metadata.annotations?.[ANN_SELECTED_NODE];
    let node: { name: string; labels: Record<string, string> } | undefined;
    if (delay && selectedNode) {
      const n = this.nodes.get('', selectedNode);
      node = { name: selectedNode, labels: n?.metadata.labels ?? { [HOSTNAME_LABEL]: selectedNode } };
    }
    const pv = findMatchingVolume(claim, this.volumes.list(), { className, delayBinding: delay, node });
    if (pv) {
      await this.bind(pv, claim);
      return;
    }
    if (delay && !selectedNode) {
      await this.claimPending(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    if (sc?.provisioner && sc.provisioner !== NO_PROVISIONER) {
      const ann = claim.metadata.annotations ?? {};
      if (ann[ANN_STORAGE_PROVISIONER] !== sc.provisioner || ann[ANN_BETA_STORAGE_PROVISIONER] !== sc.provisioner) {
        const next = clone(claim);
        next.metadata.annotations = { ...ann, [ANN_STORAGE_PROVISIONER]: sc.provisioner, [ANN_BETA_STORAGE_PROVISIONER]: sc.provisioner };
        claim = (await this.ctx.client.update(PersistentVolumeClaims, claim.metadata.namespace ?? '', next)) as PVC;
      }
      await this.claimPending(
        claim,
        'Normal',
        'ExternalProvisioning',
        `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
      );
      return;
    }
    const why = className === '' ? 'no persistent volumes available for this claim and no storage class is set' : sc ? 'no persistent volumes available for this claim' : `storageclass.storage.k8s.io ${JSON.stringify(className)} not found`;
    await this.claimPending(claim, 'Warning', sc || className === '' ? 'FailedBinding' : 'ProvisioningFailed', why);
  }

  private async syncBoundClaim(claim: PVC): Promise<void> {
    const volumeName = claim.spec!.volumeName!;
    const pv = this.volumes.get('', volumeName) ?? (await this.liveVolume(volumeName));
    const completed = claim.metadata.annotations?.[ANN_BIND_COMPLETED] !== undefined;
    if (!pv) {
      if (completed) await this.claimLost(claim, 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      else await this.claimPending(claim, 'Normal', 'FailedBinding', `volume ${JSON.stringify(volumeName)} not found`);
      return;
    }
    if (!pv.spec?.claimRef || isVolumeBoundToClaim(pv, claim)) {
      // Pre-bound by the user, or a binding this controller started: finish it.
      await this.bind(pv, claim);
      return;
    }
    if (completed) await this.claimLost(claim, 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
    else await this.claimPending(claim, 'Warning', 'FailedBinding', `volume ${JSON.stringify(volumeName)} already bound to a different claim.`);
  }

  private async liveVolume(name: string): Promise<PV | undefined> {
    try {
      return (await this.ctx.client.get(PersistentVolumes, '', name)) as PV;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The four binding writes, each only when not yet done. */
  private async bind(pv: PV, claim: PVC): Promise<void> {
    const ns = claim.metadata.namespace ?? '';
    const ref = pv.spec?.claimRef;
    if (!ref || ref.uid !== claim.metadata.uid || ref.name !== claim.metadata.name || ref.namespace !== ns) {
      const next = clone(pv);
      next.spec ??= {};
      next.spec.claimRef = { kind: 'PersistentVolumeClaim', namespace: ns, name: claim.metadata.name, uid: claim.metadata.uid, apiVersion: 'v1', resourceVersion: claim.metadata.resourceVersion };
      if (!ref) next.metadata.annotations = { ...next.metadata.annotations, [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      pv = (await this.ctx.client.update(PersistentVolumes, '', next)) as PV;
    }
    if (pv.status?.phase !== 'Bound') {
      const next = clone(pv);
      next.status = { ...next.status, phase: 'Bound' };
      delete next.status.message;
      delete next.status.reason;
      pv = (await this.ctx.client.updateStatus(PersistentVolumes, '', next)) as PV;
    }
    const pvName = pv.metadata.name ?? '';
    if (claim.spec?.volumeName !== pvName || claim.metadata.annotations?.[ANN_BIND_COMPLETED] === undefined) {
      const next = clone(claim);
      const byController = claim.spec?.volumeName !== pvName;
      next.spec = { ...next.spec, volumeName: pvName };
      next.metadata.annotations = { ...next.metadata.annotations, [ANN_BIND_COMPLETED]: 'yes', ...(byController ? { [ANN_BOUND_BY_CONTROLLER]: 'yes' } : {}) };
      claim = (await this.ctx.client.update(PersistentVolumeClaims, ns, next)) as PVC;
    }
    const modes = pv.spec?.accessModes ?? [];
    const capacity = pv.spec?.capacity ?? {};
    if (claim.status?.phase !== 'Bound' || JSON.stringify(claim.status.accessModes ?? []) !== JSON.stringify(modes) || JSON.stringify(claim.status.capacity ?? {}) !== JSON.stringify(capacity)) {
      const next = clone(claim);
      next.status = { ...next.status, phase: 'Bound', accessModes: [...modes], capacity: { ...capacity } };
      await this.ctx.client.updateStatus(PersistentVolumeClaims, ns, next);
    }
    this.told.delete(keyOf(claim));
  }

  private async claimPending(claim: PVC, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (claim.status?.phase !== 'Pending') {
      const next = clone(claim);
      next.status = { ...next.status, phase: 'Pending' };
      await this.ctx.client.updateStatus(PersistentVolumeClaims, claim.metadata.namespace ?? '', next);
    }
    this.tell(claim, type, reason, message);
  }

  private async claimLost(claim: PVC, reason: string, message: string): Promise<void> {
    if (claim.status?.phase !== 'Lost') {
      const next = clone(claim);
      next.status = { ...next.status, phase: 'Lost' };
      await this.ctx.client.updateStatus(PersistentVolumeClaims, claim.metadata.namespace ?? '', next);
    }
    this.tell(claim, 'Warning', reason, message);
  }

  private tell(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = keyOf(obj);
    if (this.told.get(key) === `${reason}:${message}`) return;
    this.told.set(key, `${reason}:${message}`);
    this.recorder.event(obj, type, reason, message);
  }

  // ---- volumes

  async syncVolume(name: string): Promise<void> {
    let pv = this.volumes.get('', name);
    if (!pv) return;
    if (pv.metadata.deletionTimestamp) {
      const ref = pv.spec?.claimRef;
      if (pv.status?.phase === 'Bound' && ref?.uid && !(await this.claimOf(ref.namespace ?? '', ref.name ?? '', ref.uid))) pv = await this.volumePhase(pv, 'Released');
      await this.releaseVolumeFinalizer(pv);
      return;
    }
    if (!pv.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER)) {
      const next = clone(pv);
      next.metadata.finalizers = [...(next.metadata.finalizers ?? []), PV_PROTECTION_FINALIZER];
      pv = (await this.ctx.client.update(PersistentVolumes, '', next)) as PV;
    }
    const ref = pv.spec?.claimRef;
    if (!ref || !ref.uid) {
      // Free, or pre-bound to a claim by name that the claim's sync will bind.
      await this.volumePhase(pv, 'Available');
      return;
    }
    const claim = await this.claimOf(ref.namespace ?? '', ref.name ?? '', ref.uid);
    if (!claim) {
      pv = await this.volumePhase(pv, pv.status?.phase === 'Failed' ? 'Failed' : 'Released');
      await this.reclaim(pv);
      return;
    }
    if (!claim.spec?.volumeName || claim.spec.volumeName === name) {
      // Bound, or a binding in progress that the claim's sync finishes.
      await this.volumePhase(pv, 'Bound');
      return;
    }
    // The claim went to another volume: a volume this controller bound is given back.
    if (pv.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER] !== undefined) {
      const next = clone(pv);
      delete next.spec!.claimRef;
      delete next.metadata.annotations![ANN_BOUND_BY_CONTROLLER];
      pv = (await this.ctx.client.update(PersistentVolumes, '', next)) as PV;
      await this.volumePhase(pv, 'Available');
    }
  }

  /** The claim a volume's claimRef names, if it still exists with that UID (asking the server before concluding it is gone). */
  private async claimOf(namespace: string, name: string, uid: string): Promise<PVC | undefined> {
    const cached = this.claims.get(namespace, name);
    if (cached?.metadata.uid === uid) return cached;
    try {
      const live = (await this.ctx.client.get(PersistentVolumeClaims, namespace, name)) as PVC;
      return live.metadata.uid === uid ? live : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async volumePhase(pv: PV, phase: string, reason?: string, message?: string): Promise<PV> {
    // Same phase: keep its reason and message unless new ones are given.
    if (pv.status?.phase === phase && (message === undefined || pv.status.message === message)) return pv;
    const next = clone(pv);
    next.status = { phase, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
    return (await this.ctx.client.updateStatus(PersistentVolumes, '', next)) as PV;
  }

  private async reclaim(pv: PV): Promise<void> {
    const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain';
    if (policy === 'Retain' || pv.status?.phase === 'Failed') return;
    if (policy === 'Delete') {
      // local-path volumes: the node agent that holds the data removes it, then the volume.
      if (pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED] === LOCAL_PATH_PROVISIONER) return;
      const msg = `error getting deleter volume plugin for volume ${JSON.stringify(pv.metadata.name)}: no deletable volume plugin matched`;
      await this.volumePhase(pv, 'Failed', 'VolumeFailedDelete', msg);
      this.recorder.event(pv, 'Warning', 'VolumeFailedDelete', msg);
      return;
    }
    const msg = 'No recycler plugin found for the volume!';
    await this.volumePhase(pv, 'Failed', 'VolumeFailedRecycle', msg);
    this.recorder.event(pv, 'Warning', 'VolumeFailedRecycle', msg);
  }

  private async releaseVolumeFinalizer(pv: PV): Promise<void> {
    if (!pv.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER)) return;
    // pvprotection: a volume stays while a claim is bound to it.
    if (pv.status?.phase === 'Bound') return;
    const next = clone(pv);
    next.metadata.finalizers = next.metadata.finalizers!.filter((f) => f !== PV_PROTECTION_FINALIZER);
    try {
      await this.ctx.client.update(PersistentVolumes, '', next);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

function isTerminal(p: PodObj): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}
