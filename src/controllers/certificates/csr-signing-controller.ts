/**
 * The csrsigning controller (pkg/controller/certificates/signer): signs approved CertificateSigningRequests of the
 * kubernetes.io/kube-apiserver-client, kube-apiserver-client-kubelet and kubelet-serving signers with the cluster CA
 * and writes status.certificate through /status. A request its signer's rules refuse gets a Failed condition
 * (SignerValidationFailure) instead; pending, denied, failed or issued requests and other signers are left alone.
 * The queue carries CSR names; the sync reads the cache and copies before writing.
 */
import { rfc3339 } from '../../api/time.js';
import { isConflict, isNotFound } from '../../api/status.js';
import type { Client, Clock, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { keyOf, runWorkers, type Controller, type ControllerContext } from '../controller.js';
import { CertificateSigningRequests, hasFailed, isApproved, isIssued, requestPem, type CSR } from './csr.js';
import { parseCertificateRequest, signCertificate, signingDurationMs, type SigningCA } from './sign-certificate.js';
import { decideSigner, SIGNERS } from './signer-rules.js';

const log = createLogger('csrsigning-controller');

/** True when the signer has work: approved, not failed, not yet issued, and one of its signerNames. */
export function needsSigning(csr: CSR): boolean {
  return isApproved(csr) && !hasFailed(csr) && !isIssued(csr) && SIGNERS.includes(csr.spec?.signerName ?? '');
}

export class CSRSigningController implements Controller {
  readonly name = 'csrsigning';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly queue: WorkQueue;
  private readonly csrs: Lister<CSR>;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly ca: SigningCA,
    /** kube-controller-manager --cluster-signing-duration. */
    private readonly defaultDurationMs?: number,
  ) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.csrs = ctx.informers.informerFor<CSR>(CertificateSigningRequests).lister;
  }

  start(): void {
    const enqueue = (csr: CSR) => {
      if (needsSigning(csr)) this.queue.add(keyOf(csr));
    };
    this.ctx.informers.informerFor<CSR>(CertificateSigningRequests).addEventHandler({ add: enqueue, update: (_old, cur) => enqueue(cur) });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (name) => this.sync(name));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async sync(name: string): Promise<void> {
    const cached = this.csrs.get('', name);
    if (!cached || !needsSigning(cached)) return;
    const csr = structuredClone(cached);
    const now = this.clock.now();
    let parsed;
    try {
      parsed = await parseCertificateRequest(requestPem(csr));
    } catch (err) {
      // Validation at create makes this unreachable for stored requests; retried with backoff like upstream.
      throw new Error(`unable to parse csr ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    const usages = csr.spec.usages ?? [];
    const decision = decideSigner(csr.spec.signerName, parsed, usages);
    if (!decision.recognized) return;
    const status = (csr.status ??= {});
    if (decision.error) {
      (status.conditions ??= []).push({ type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message: decision.error, lastUpdateTime: rfc3339(now), lastTransitionTime: rfc3339(now) });
      log.info('refused a certificate signing request', { csr: name, signer: csr.spec.signerName, reason: decision.error });
    } else {
      const pem = await signCertificate(this.ca, parsed, usages, signingDurationMs(csr.spec.expirationSeconds, this.defaultDurationMs), now);
      status.certificate = Buffer.from(pem, 'latin1').toString('base64');
      log.info('signed a certificate signing request', { csr: name, signer: csr.spec.signerName, subject: parsed.commonName });
    }
    try {
      await this.client.updateStatus(CertificateSigningRequests, '', csr);
    } catch (err) {
      // Deleted meanwhile: nothing to do. A conflict: the informer brings the newer object and the key comes back.
      if (isNotFound(err)) return;
      if (isConflict(err)) {
        this.queue.addRateLimited(name);
        return;
      }
      throw err;
    }
  }
}
