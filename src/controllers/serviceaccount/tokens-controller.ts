/**
 * The token controller (upstream pkg/controller/serviceaccount/tokens_controller.go) for legacy token Secrets:
 * a Secret of type `kubernetes.io/service-account-token` naming a ServiceAccount in the annotation
 * `kubernetes.io/service-account.name` gets `data.token` (a non-expiring JWT for that account and Secret),
 * `data.ca.crt` and `data.namespace`, and the account's uid in `kubernetes.io/service-account.uid`.
 *
 *   Secret added/changed ─► account missing, or uid annotation names another account ─► delete the Secret
 *                         └► token, ca.crt or namespace missing or stale ─► update the Secret (compare-and-swap)
 *   ServiceAccount deleted ─► its token Secrets are synced (and so deleted)
 *
 * The API server accepts such a token only while the Secret exists and holds that very token, and the account exists
 * with the same uid (apiserver/auth/serviceaccount), so deleting the Secret revokes it.
 */
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { Secrets, ServiceAccounts } from '../../client/resources.js';
import type { Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';

type SecretObj = Secret & KubeObject;
type ServiceAccountObj = ServiceAccount & KubeObject;

export const SERVICE_ACCOUNT_TOKEN_TYPE = 'kubernetes.io/service-account-token';
export const ANN_SERVICE_ACCOUNT_NAME = 'kubernetes.io/service-account.name';
export const ANN_SERVICE_ACCOUNT_UID = 'kubernetes.io/service-account.uid';

/** Signs the token of a legacy token Secret (the API server's key; the controller never sees it). */
export type LegacyTokenSigner = (namespace: string, serviceAccount: { name: string; uid: string }, secretName: string) => string;

export class TokensController implements Controller {
  readonly name = 'serviceaccount-token';
  private readonly queue: WorkQueue;
  private readonly secrets: Lister<SecretObj>;
  private readonly serviceAccounts: Lister<ServiceAccountObj>;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly sign: LegacyTokenSigner,
    private readonly caPem: string,
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.secrets = ctx.informers.informerFor<SecretObj>(Secrets).lister;
    this.serviceAccounts = ctx.informers.informerFor<ServiceAccountObj>(ServiceAccounts).lister;
  }

  start(): void {
    const enqueue = (s: SecretObj) => {
      if (s.type === SERVICE_ACCOUNT_TOKEN_TYPE) this.queue.add(keyOf(s));
    };
    this.ctx.informers.informerFor<SecretObj>(Secrets).addEventHandler({ add: enqueue, update: (_o, s) => enqueue(s) });
    this.ctx.informers.informerFor<ServiceAccountObj>(ServiceAccounts).addEventHandler({
      // A new account may be what a waiting Secret names; a deleted one takes its Secrets with it.
      add: (sa) => this.enqueueSecretsOf(sa),
      delete: (sa) => this.enqueueSecretsOf(sa),
    });
  }

  private enqueueSecretsOf(sa: ServiceAccountObj): void {
    for (const s of this.secrets.list(sa.metadata.namespace)) {
      if (s.type === SERVICE_ACCOUNT_TOKEN_TYPE && s.metadata.annotations?.[ANN_SERVICE_ACCOUNT_NAME] === sa.metadata.name) this.queue.add(keyOf(s));
    }
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncSecret(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async syncSecret(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const secret = this.secrets.get(namespace, name);
    if (!secret || secret.type !== SERVICE_ACCOUNT_TOKEN_TYPE || secret.metadata.deletionTimestamp) return;
    const annotations = secret.metadata.annotations ?? {};
    const saName = annotations[ANN_SERVICE_ACCOUNT_NAME] ?? '';
    const wantUid = annotations[ANN_SERVICE_ACCOUNT_UID];
    let sa = this.serviceAccounts.get(namespace, saName);
    if (!sa && saName !== '') {
      // The cache may not have an account created a moment ago: ask before deleting anything.
      sa = await this.ctx.client.get<ServiceAccountObj>(ServiceAccounts, namespace, saName).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    }
    if (!sa || (wantUid && wantUid !== sa.metadata.uid)) {
      // Upstream deletes token Secrets whose account is gone (the Secret's uid pins the one we judged).
      await this.ctx.client.delete(Secrets, namespace, name, { preconditions: { uid: secret.metadata.uid } }).catch((err: unknown) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
      return;
    }
    const saUid = sa.metadata.uid ?? '';
    const data = secret.data ?? {};
    const nsB64 = b64(namespace);
    const caB64 = b64(this.caPem);
    if (data.token && data['ca.crt'] === caB64 && data.namespace === nsB64 && wantUid === saUid) return;
    const token = data.token && wantUid === saUid ? data.token : b64(this.sign(namespace, { name: saName, uid: saUid }, name));
    const next: SecretObj = {
      ...secret,
      metadata: { ...secret.metadata, annotations: { ...annotations, [ANN_SERVICE_ACCOUNT_UID]: saUid } },
      data: { ...data, token, 'ca.crt': caB64, namespace: nsB64 },
    };
    try {
      await this.ctx.client.update(Secrets, namespace, next);
    } catch (err) {
      // Conflict: the Secret changed meanwhile; its update event brings it back here. NotFound: it is gone.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}
