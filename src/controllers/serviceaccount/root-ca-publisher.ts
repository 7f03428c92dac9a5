/**
 * The root CA publisher (upstream pkg/controller/certificates/rootcacertpublisher): every active namespace holds the
 * ConfigMap `kube-root-ca.crt` with the cluster CA under `ca.crt`, which the projected service account volume mounts
 * so in-cluster clients can verify the API server. A namespace is synced when it appears or changes, and when its
 * ConfigMap is deleted or changed: a deleted one is recreated, an edited one is put back.
 */
import type { ConfigMap, Namespace } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound, isStatusError } from '../../api/status.js';
import { ConfigMaps, Namespaces } from '../../client/resources.js';
import type { Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';

type NamespaceObj = Namespace & KubeObject;
type ConfigMapObj = ConfigMap & KubeObject;

export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
export const ROOT_CA_KEY = 'ca.crt';
/** Upstream's annotation, word for word. */
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

export class RootCAPublisher implements Controller {
  readonly name = 'root-ca-cert-publisher';
  private readonly queue: WorkQueue;
  private readonly namespaces: Lister<NamespaceObj>;
  private readonly configMaps: Lister<ConfigMapObj>;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly caPem: string,
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.namespaces = ctx.informers.informerFor<NamespaceObj>(Namespaces).lister;
    this.configMaps = ctx.informers.informerFor<ConfigMapObj>(ConfigMaps, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` }).lister;
  }

  start(): void {
    this.ctx.informers.informerFor<NamespaceObj>(Namespaces).addEventHandler({
      add: (ns) => this.queue.add(ns.metadata.name ?? ''),
      update: (_old, ns) => this.queue.add(ns.metadata.name ?? ''),
    });
    this.ctx.informers.informerFor<ConfigMapObj>(ConfigMaps, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` }).addEventHandler({
      update: (_old, cm) => this.queue.add(cm.metadata.namespace ?? ''),
      delete: (cm) => this.queue.add(cm.metadata.namespace ?? ''),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncNamespace(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async syncNamespace(namespace: string): Promise<void> {
    const ns = this.namespaces.get('', namespace);
    if (!ns || ns.metadata.deletionTimestamp || (ns.status?.phase && ns.status.phase !== 'Active')) return;
    const current = this.configMaps.get(namespace, ROOT_CA_CONFIGMAP);
    try {
      if (!current) {
        const cm: Mutable<ConfigMapObj> = {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: ROOT_CA_CONFIGMAP, namespace, annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION } },
          data: { [ROOT_CA_KEY]: this.caPem },
        };
        await this.ctx.client.create(ConfigMaps, namespace, cm);
        return;
      }
      const data = current.data ?? {};
      const annotations = current.metadata.annotations ?? {};
      if (Object.keys(data).length === 1 && data[ROOT_CA_KEY] === this.caPem && annotations['kubernetes.io/description'] === ROOT_CA_DESCRIPTION) return;
      // Upstream replaces the data wholesale and puts the description back; other metadata stays the user's.
      const next = { ...current, metadata: { ...current.metadata, annotations: { ...annotations, 'kubernetes.io/description': ROOT_CA_DESCRIPTION } }, data: { [ROOT_CA_KEY]: this.caPem } };
      delete (next as { binaryData?: unknown }).binaryData;
      await this.ctx.client.update(ConfigMaps, namespace, next);
    } catch (err) {
      // AlreadyExists / Conflict: our cache was behind; the informer event that follows requeues the namespace.
      // NotFound / Forbidden: the namespace went away or started terminating.
      if (isAlreadyExists(err) || isConflict(err) || isNotFound(err) || (isStatusError(err) && err.code === 403)) return;
      throw err;
    }
  }
}
