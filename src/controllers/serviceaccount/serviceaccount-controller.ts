/**
 * The ServiceAccount controller (upstream pkg/controller/serviceaccount/serviceaccounts_controller.go): every active
 * namespace has a `default` ServiceAccount. A namespace is synced when it appears or changes, and again when one of
 * its ServiceAccounts is deleted, so a deleted `default` comes back.
 */
import type { Namespace, ServiceAccount as K8sServiceAccount } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists, isNotFound, isStatusError } from '../../api/status.js';
import { Namespaces, ServiceAccounts } from '../../client/resources.js';
import type { Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';

type NamespaceObj = Namespace & KubeObject;
type ServiceAccountObj = K8sServiceAccount & KubeObject;

/** The accounts every namespace gets (kube-controller-manager's ServiceAccountsControllerOptions default). */
export const DEFAULT_SERVICE_ACCOUNTS: readonly string[] = ['default'];

export class ServiceAccountController implements Controller {
  readonly name = 'serviceaccount';
  private readonly queue: WorkQueue;
  private readonly namespaces: Lister<NamespaceObj>;
  private readonly serviceAccounts: Lister<ServiceAccountObj>;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.namespaces = ctx.informers.informerFor<NamespaceObj>(Namespaces).lister;
    this.serviceAccounts = ctx.informers.informerFor<ServiceAccountObj>(ServiceAccounts).lister;
  }

  start(): void {
    this.ctx.informers.informerFor<NamespaceObj>(Namespaces).addEventHandler({
      add: (ns) => this.queue.add(ns.metadata.name ?? ''),
      update: (_old, ns) => this.queue.add(ns.metadata.name ?? ''),
    });
    // Only deletions matter: an account that exists needs nothing, and one that is deleted may be a default one.
    this.ctx.informers.informerFor<ServiceAccountObj>(ServiceAccounts).addEventHandler({
      delete: (sa) => {
        if (DEFAULT_SERVICE_ACCOUNTS.includes(sa.metadata.name ?? '')) this.queue.add(sa.metadata.namespace ?? '');
      },
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncNamespace(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  /** Creates the missing default accounts of one namespace; a namespace that is gone or terminating gets none. */
  async syncNamespace(name: string): Promise<void> {
    const ns = this.namespaces.get('', name);
    if (!ns) return;
    // Upstream creates accounts only in Active namespaces: a terminating one would refuse them anyway.
    if (ns.metadata.deletionTimestamp || (ns.status?.phase && ns.status.phase !== 'Active')) return;
    for (const saName of DEFAULT_SERVICE_ACCOUNTS) {
      if (this.serviceAccounts.get(name, saName)) continue;
      const sa: Mutable<ServiceAccountObj> = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: saName, namespace: name } };
      try {
        await this.ctx.client.create(ServiceAccounts, name, sa);
      } catch (err) {
        // AlreadyExists: our cache was behind, the account is there. Forbidden/NotFound: the namespace started
        // terminating or vanished after our cache saw it; the next namespace event settles it.
        if (isAlreadyExists(err) || isNotFound(err) || (isStatusError(err) && err.code === 403)) continue;
        throw err;
      }
    }
  }
}
