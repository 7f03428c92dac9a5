/**
 * The local-path provisioner (after rancher/local-path-provisioner, which k3s ships as `local-path`): a claim of a
 * class whose provisioner is `skiff.dev/local-path` gets a hostPath PersistentVolume on the node the scheduler
 * picked for its first pod (`volume.kubernetes.io/selected-node`, written by the scheduler's VolumeBinding plugin).
 *
 *   PV pvc-<claim uid>: hostPath <storage root>/pvc-<uid>_<namespace>_<name> (DirectoryOrCreate), capacity = the
 *   claim's request, the claim's access modes and volume mode, the class's reclaim policy, node affinity
 *   kubernetes.io/hostname In [node], claimRef to the claim (the PV binder completes the binding), annotation
 *   pv.kubernetes.io/provisioned-by, finalizer skiff.dev/local-path-cleanup.
 *
 * The directory itself is made on the node when the pod mounts the volume (hostPath DirectoryOrCreate), and removed
 * on reclaim by the node agent's LocalPathReclaimer (src/agent/volumes), which then drops the finalizer: only the
 * node can reach its disk. The storage root is the node's annotation `skiff.dev/local-path-storage-root` (the agent
 * sets it to `<data dir>/storage`), else `defaultStorageRoot`.
 */
import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists } from '../../api/status.js';
import { Nodes, PersistentVolumeClaims, PersistentVolumes, StorageClasses } from '../../client/resources.js';
import type { EventRecorder, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE, claimClass, defaultClass, HOSTNAME_LABEL, type PV, type PVC, type SC } from '../persistentvolume/volume-util.js';

export const LOCAL_PATH_PROVISIONER = 'skiff.dev/local-path';
/** Held by every local-path PV until the node agent has removed (or, for Retain, kept) its data. */
export const LOCAL_PATH_FINALIZER = 'skiff.dev/local-path-cleanup';
/** Set on a Node by its agent: where that node keeps local-path volumes. */
export const STORAGE_ROOT_ANNOTATION = 'skiff.dev/local-path-storage-root';
/** The storage root of a node that does not say (the root agent's default data dir + /storage). */
export const DEFAULT_STORAGE_ROOT = '/var/lib/skiff/storage';

type NodeObj = Node & KubeObject;

export interface LocalPathProvisionerOptions {
  defaultStorageRoot?: string;
}

export class LocalPathProvisioner implements Controller {
  readonly name = 'local-path-provisioner';
  private readonly queue: WorkQueue;
  private readonly claims: Lister<PVC>;
  private readonly volumes: Lister<PV>;
  private readonly classes: Lister<SC>;
  private readonly nodes: Lister<NodeObj>;
  private readonly recorder: EventRecorder;
  private readonly defaultStorageRoot: string;
  private readonly told = new Map<string, string>();

  constructor(
    private readonly ctx: ControllerContext,
    opts: LocalPathProvisionerOptions = {},
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.claims = ctx.informers.informerFor<PVC>(PersistentVolumeClaims).lister;
    this.volumes = ctx.informers.informerFor<PV>(PersistentVolumes).lister;
    this.classes = ctx.informers.informerFor<SC>(StorageClasses).lister;
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
    this.recorder = ctx.recorder(`${LOCAL_PATH_PROVISIONER}_${this.name}`);
    this.defaultStorageRoot = opts.defaultStorageRoot ?? DEFAULT_STORAGE_ROOT;
  }

  start(): void {
    const enqueue = (c: PVC) => {
      if (!c.spec?.volumeName) this.queue.add(keyOf(c));
    };
    this.ctx.informers.informerFor<PVC>(PersistentVolumeClaims).addEventHandler({ add: enqueue, update: (_o, c) => enqueue(c), delete: (c) => this.told.delete(keyOf(c)) });
    const all = () => {
      for (const c of this.claims.list()) enqueue(c);
    };
    this.ctx.informers.informerFor<SC>(StorageClasses).addEventHandler({ add: all, update: all });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncClaim(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async syncClaim(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const claim = this.claims.get(namespace, name);
    if (!claim || claim.spec?.volumeName || claim.metadata.deletionTimestamp) return;
    const className = claimClass(claim, defaultClass(this.classes.list())?.metadata.name);
    const sc = className ? this.classes.get('', className) : undefined;
    if (sc?.provisioner !== LOCAL_PATH_PROVISIONER) return;
    const nodeName = claim.metadata.annotations?.[ANN_SELECTED_NODE];
    if (!nodeName) {
      if (sc.volumeBindingMode !== 'WaitForFirstConsumer') this.tell(claim, 'Warning', 'ProvisioningFailed', 'failed to provision volume with StorageClass "' + className + '": configuration error, no node was specified');
      return;
    }
    const pvName = `pvc-${claim.metadata.uid}`;
    if (this.volumes.get('', pvName)) return;

    const modes = claim.spec?.accessModes ?? [];
    const unsupported = modes.filter((m) => m !== 'ReadWriteOnce' && m !== 'ReadWriteOncePod');
    if (unsupported.length > 0) {
      this.tell(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${className}": Only support ReadWriteOnce access mode`);
      return;
    }
    if (claim.spec?.volumeMode === 'Block') {
      this.tell(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${className}": local-path does not support block volumes`);
      return;
    }
    const node = this.nodes.get('', nodeName);
    const root = (node?.metadata.annotations?.[STORAGE_ROOT_ANNOTATION] ?? this.defaultStorageRoot).replace(/\/+$/, '');
    const hostname = node?.metadata.labels?.[HOSTNAME_LABEL] ?? nodeName;
    const pv: Mutable<PV> = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: pvName,
        annotations: { [ANN_DYNAMICALLY_PROVISIONED]: LOCAL_PATH_PROVISIONER, 'local.path.provisioner/selected-node': nodeName },
        finalizers: [LOCAL_PATH_FINALIZER],
      },
      spec: {
        capacity: { storage: String(claim.spec?.resources?.requests?.storage ?? '0') },
        accessModes: [...modes],
        persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
        storageClassName: className,
        volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
        hostPath: { path: `${root}/${pvName}_${namespace}_${name}`, type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [hostname] }] }] } },
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace, name, uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion },
        ...(sc.mountOptions ? { mountOptions: [...sc.mountOptions] } : {}),
      },
    };
    this.tell(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${namespace}/${name}"`);
    try {
      await this.ctx.client.create(PersistentVolumes, '', pv);
    } catch (err) {
      if (isAlreadyExists(err)) return; // created by an earlier sync our cache has not seen yet
      this.tell(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${className}": ${(err as Error).message}`);
      throw err;
    }
    this.tell(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
  }

  private tell(claim: PVC, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = keyOf(claim);
    if (this.told.get(key) === `${reason}:${message}`) return;
    this.told.set(key, `${reason}:${message}`);
    this.recorder.event(claim, type, reason, message);
  }
}
