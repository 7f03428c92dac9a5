/**
 * The csrapproving controller (pkg/controller/certificates/approver/sarapprove.go): approves kubelet client
 * certificate requests (signer kubernetes.io/kube-apiserver-client-kubelet, CN system:node:<name>, O system:nodes,
 * client usages, no SANs) when a SubjectAccessReview says the requestor may create
 * `certificatesigningrequests/selfnodeclient` (renewing its own identity: requestor = CN) or
 * `certificatesigningrequests/nodeclient` (any node's). Nothing else is ever approved automatically: requests for
 * kubernetes.io/kube-apiserver-client and kubelet-serving wait for `kubectl certificate approve`.
 */
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { rfc3339 } from '../../api/time.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Client, Clock, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { keyOf, runWorkers, type Controller, type ControllerContext } from '../controller.js';
import { CertificateSigningRequests, conditionOf, isIssued, requestPem, SubjectAccessReviews, type CSR } from './csr.js';
import { parseCertificateRequest, type ParsedRequest } from './sign-certificate.js';
import { KUBE_APISERVER_CLIENT_KUBELET, validateKubeletClient } from './signer-rules.js';

const log = createLogger('csrapproving-controller');

interface Recognizer {
  subresource: 'selfnodeclient' | 'nodeclient';
  message: string;
  recognize(csr: CertificateSigningRequest, req: ParsedRequest): boolean;
}

function isNodeClientCert(csr: CertificateSigningRequest, req: ParsedRequest): boolean {
  return csr.spec.signerName === KUBE_APISERVER_CLIENT_KUBELET && validateKubeletClient(req, csr.spec.usages ?? []) === undefined;
}

/** In upstream's order: a node renewing its own certificate first, then any node client certificate. */
export const recognizers: Recognizer[] = [
  { subresource: 'selfnodeclient', message: 'Auto approving self kubelet client certificate after SubjectAccessReview.', recognize: (csr, req) => csr.spec.username === req.commonName && isNodeClientCert(csr, req) },
  { subresource: 'nodeclient', message: 'Auto approving kubelet client certificate after SubjectAccessReview.', recognize: isNodeClientCert },
];

/** A request still waiting for a decision (no Approved/Denied condition, no certificate) of the kubelet-client signer. */
export function awaitingApproval(csr: CSR): boolean {
  return csr.spec?.signerName === KUBE_APISERVER_CLIENT_KUBELET && !isIssued(csr) && !conditionOf(csr, 'Approved') && !conditionOf(csr, 'Denied');
}

export class CSRApprovingController implements Controller {
  readonly name = 'csrapproving';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly queue: WorkQueue;
  private readonly csrs: Lister<CSR>;

  constructor(private readonly ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.csrs = ctx.informers.informerFor<CSR>(CertificateSigningRequests).lister;
  }

  start(): void {
    const enqueue = (csr: CSR) => {
      if (awaitingApproval(csr)) this.queue.add(keyOf(csr));
    };
    this.ctx.informers.informerFor<CSR>(CertificateSigningRequests).addEventHandler({ add: enqueue, update: (_old, cur) => enqueue(cur) });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (name) => this.sync(name));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private async authorized(csr: CSR, subresource: string): Promise<boolean> {
    const sar = (await this.client.create(SubjectAccessReviews, '', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: {},
      spec: {
        user: csr.spec.username,
        uid: csr.spec.uid,
        groups: csr.spec.groups,
        extra: csr.spec.extra,
        resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create', subresource, version: '*' },
      },
    })) as { status?: { allowed?: boolean } };
    return sar.status?.allowed === true;
  }

  async sync(name: string): Promise<void> {
    const cached = this.csrs.get('', name);
    if (!cached || !awaitingApproval(cached)) return;
    const csr = structuredClone(cached);
    const req = await parseCertificateRequest(requestPem(csr));
    const tried: string[] = [];
    for (const r of recognizers) {
      if (!r.recognize(csr, req)) continue;
      tried.push(r.subresource);
      if (!(await this.authorized(csr, r.subresource))) continue;
      const now = rfc3339(this.clock.now());
      ((csr.status ??= {}).conditions ??= []).push({ type: 'Approved', status: 'True', reason: 'AutoApproved', message: r.message, lastUpdateTime: now, lastTransitionTime: now });
      try {
        await this.client.update(CertificateSigningRequests, '', csr, { subresource: 'approval' });
        log.info('approved a kubelet client certificate request', { csr: name, requestor: csr.spec.username, as: r.subresource });
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) this.queue.addRateLimited(name);
        else throw err;
      }
      return;
    }
    // Upstream's IgnorableError: logged, not retried; an administrator may still approve it by hand.
    if (tried.length > 0) log.info('recognized a kubelet client certificate request but the SubjectAccessReview did not allow it', { csr: name, requestor: csr.spec.username, tried });
  }
}
