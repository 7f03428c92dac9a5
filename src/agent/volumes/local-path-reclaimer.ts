/**
 * The node side of the local-path provisioner (src/controllers/localpath): only the node that holds a volume's data
 * can remove it, so each agent watches the PersistentVolumes provisioned by `skiff.dev/local-path` on it and
 * reclaims them, as rancher/local-path-provisioner's helper pod does with its teardown script.
 *
 *   PV of this node, reclaim policy Delete, phase Released (its claim is gone) or being deleted
 *       -> remove <storage root>/pvc-..., drop the finalizer skiff.dev/local-path-cleanup, delete the PV
 *   PV of this node, reclaim policy Retain, being deleted
 *       -> keep the data, drop the finalizer
 *
 * A path outside the storage root is never removed (the PV stays, with its finalizer, and the error is logged).
 * At start the reclaimer annotates its Node with the storage root, which the provisioner puts into new PVs.
 */
import { rm } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { Nodes, PersistentVolumes } from '../../client/resources.js';
import { realClock, type Client, type Clock, type InformerFactory, type Lister, type WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { LOCAL_PATH_PROVISIONER } from './host-volume-manager.js';

const log = createLogger('local-path-reclaimer');

/** The same names as src/controllers/localpath (agent code may not import controllers). */
export const LOCAL_PATH_FINALIZER = 'skiff.dev/local-path-cleanup';
export const STORAGE_ROOT_ANNOTATION = 'skiff.dev/local-path-storage-root';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const SELECTED_NODE = 'local.path.provisioner/selected-node';

type PV = PersistentVolume & KubeObject;

export interface LocalPathReclaimerOptions {
  client: Client;
  informers: InformerFactory;
  nodeName: string;
  /** `<agent data dir>/storage`: where this node's local-path volumes live. */
  storageRoot: string;
  clock?: Clock;
  /** Retry period for annotating the Node before it is registered (default 5 s). */
  annotateRetryMs?: number;
}

export class LocalPathReclaimer {
  private readonly queue: WorkQueue;
  private readonly volumes: Lister<PV>;
  private readonly clock: Clock;
  private readonly storageRoot: string;
  private retry: { cancel(): void } | undefined;
  private stopped = false;

  constructor(private readonly opts: LocalPathReclaimerOptions) {
    this.clock = opts.clock ?? realClock;
    this.storageRoot = resolve(opts.storageRoot);
    this.queue = createWorkQueue({ clock: this.clock });
    this.volumes = opts.informers.informerFor<PV>(PersistentVolumes).lister;
  }

  /** Registers the informer handler (before informers.start()) and annotates the Node. */
  start(): void {
    const enqueue = (pv: PV) => {
      if (this.isOurs(pv)) this.queue.add(pv.metadata.name ?? '');
    };
    this.opts.informers.informerFor<PV>(PersistentVolumes).addEventHandler({ add: enqueue, update: (_o, pv) => enqueue(pv) });
    void this.annotateNode();
  }

  run(workers = 1): Promise<void> {
    const worker = async () => {
      for (;;) {
        const key = await this.queue.get();
        if (key === undefined) return;
        try {
          await this.syncVolume(key);
          this.queue.forget(key);
        } catch (err) {
          log.error('error reclaiming volume', { key, err });
          this.queue.addRateLimited(key);
        } finally {
          this.queue.done(key);
        }
      }
    };
    return Promise.all(Array.from({ length: workers }, worker)).then(() => {});
  }

  stop(): void {
    this.stopped = true;
    this.retry?.cancel();
    this.queue.shutDown();
  }

  /** Sets the Node's storage-root annotation; retried until the Node exists. Resolves once it is set. */
  async annotateNode(): Promise<void> {
    try {
      await this.opts.client.patch(Nodes, '', this.opts.nodeName, 'merge', { metadata: { annotations: { [STORAGE_ROOT_ANNOTATION]: this.storageRoot } } });
    } catch (err) {
      if (this.stopped) return;
      if (!isNotFound(err)) log.warn('cannot annotate the node with its local-path storage root; retrying', { key: this.opts.nodeName, err });
      await new Promise<void>((r) => {
        this.retry = this.clock.setTimeout(r, this.opts.annotateRetryMs ?? 5000);
      });
      if (!this.stopped) await this.annotateNode();
    }
  }

  private isOurs(pv: PV): boolean {
    if (pv.metadata.annotations?.[PROVISIONED_BY] !== LOCAL_PATH_PROVISIONER) return false;
    const selected = pv.metadata.annotations?.[SELECTED_NODE];
    if (selected !== undefined) return selected === this.opts.nodeName;
    const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
    return terms.some((t) => (t.matchExpressions ?? []).some((e) => e.key === 'kubernetes.io/hostname' && e.operator === 'In' && (e.values ?? []).includes(this.opts.nodeName)));
  }

  async syncVolume(name: string): Promise<void> {
    const pv = this.volumes.get('', name);
    if (!pv || !this.isOurs(pv)) return;
    const deleting = !!pv.metadata.deletionTimestamp;
    const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Delete';
    const released = pv.status?.phase === 'Released';
    if (!(deleting || (released && policy === 'Delete'))) return;

    if (policy === 'Delete') {
      const path = pv.spec?.hostPath?.path;
      if (path) {
        const rel = relative(this.storageRoot, resolve(path));
        if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
          throw new Error(`volume ${name}: path ${JSON.stringify(path)} is not inside the storage root ${JSON.stringify(this.storageRoot)}; its data is left alone`);
        }
        await rm(path, { recursive: true, force: true });
        log.info('removed local-path volume data', { key: name, path });
      }
    }
    if (pv.metadata.finalizers?.includes(LOCAL_PATH_FINALIZER)) {
      const next = structuredClone(pv) as Mutable<PV>;
      next.metadata.finalizers = next.metadata.finalizers!.filter((f) => f !== LOCAL_PATH_FINALIZER);
      try {
        await this.opts.client.update(PersistentVolumes, '', next);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
    if (!deleting) {
      try {
        await this.opts.client.delete(PersistentVolumes, '', name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}
