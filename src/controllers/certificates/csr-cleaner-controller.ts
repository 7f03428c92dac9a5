/**
 * The csrcleaner controller (pkg/controller/certificates/cleaner): once an hour (and at start) deletes
 * CertificateSigningRequests nobody needs any more: issued ones an hour after approval, denied and failed ones an
 * hour after that condition, pending ones (no conditions) a day after creation, and issued ones whose certificate
 * has expired. The decision is the pure `csrExpired`; the sweep reads the informer's cache.
 */
import { X509Certificate } from 'node:crypto';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { isNotFound } from '../../api/status.js';
import type { Client, Clock, Lister } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import type { Controller, ControllerContext } from '../controller.js';
import { CertificateSigningRequests, conditionOf, isIssued, type CSR } from './csr.js';

const log = createLogger('csrcleaner-controller');

const HOUR_MS = 3_600_000;
export const POLLING_INTERVAL_MS = HOUR_MS;
export const APPROVED_EXPIRATION_MS = HOUR_MS;
export const DENIED_EXPIRATION_MS = HOUR_MS;
export const PENDING_EXPIRATION_MS = 24 * HOUR_MS;

function olderThan(time: string | undefined, ms: number, now: Date): boolean {
  return !!time && now.getTime() - Date.parse(time) > ms;
}

/** The NotAfter of the first certificate in status.certificate, or undefined when there is none or it does not parse. */
function certificateNotAfter(csr: CertificateSigningRequest): Date | undefined {
  const pem = Buffer.from(csr.status?.certificate ?? '', 'base64').toString('latin1');
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!block) return undefined;
  try {
    return new Date(new X509Certificate(block[0]).validTo);
  } catch {
    return undefined;
  }
}

/** Why a CSR is due for deletion (upstream's isIssuedPastDeadline, ...), or undefined when it stays. */
export function csrExpired(csr: CertificateSigningRequest, now: Date): string | undefined {
  // Upstream's API server stamps every condition; skiff's stamps those written through /approval, and a condition
  // another signer wrote through /status without a time counts from the request's creation instead of never.
  const since = (type: string) => {
    const c = conditionOf(csr, type);
    return c ? (c.lastUpdateTime ?? csr.metadata?.creationTimestamp) : undefined;
  };
  if (conditionOf(csr, 'Approved') && isIssued(csr) && olderThan(since('Approved'), APPROVED_EXPIRATION_MS, now)) return 'issued more than an hour ago';
  if (olderThan(since('Denied'), DENIED_EXPIRATION_MS, now)) return 'denied more than an hour ago';
  if (olderThan(since('Failed'), DENIED_EXPIRATION_MS, now)) return 'failed more than an hour ago';
  if ((csr.status?.conditions ?? []).length === 0 && olderThan(csr.metadata?.creationTimestamp, PENDING_EXPIRATION_MS, now)) return 'pending for more than a day';
  if (isIssued(csr)) {
    const notAfter = certificateNotAfter(csr);
    if (notAfter && notAfter.getTime() < now.getTime()) return 'its certificate has expired';
  }
  return undefined;
}

export class CSRCleanerController implements Controller {
  readonly name = 'csrcleaner';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly csrs: Lister<CSR>;
  private stopped = false;
  private wake: () => void = () => {};
  private timer: { cancel(): void } | undefined;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.csrs = ctx.informers.informerFor<CSR>(CertificateSigningRequests).lister;
  }

  start(): void {}

  async run(): Promise<void> {
    while (!this.stopped) {
      await this.sweep();
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = this.clock.setTimeout(resolve, POLLING_INTERVAL_MS);
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.wake();
  }

  /** One pass: deletes every cached CSR that is due; returns the names deleted. */
  async sweep(): Promise<string[]> {
    const now = this.clock.now();
    const deleted: string[] = [];
    for (const csr of this.csrs.list()) {
      const why = csrExpired(csr, now);
      if (!why) continue;
      const name = csr.metadata.name ?? '';
      try {
        // The uid precondition spares a request re-created under the same name since the cache saw it.
        await this.client.delete(CertificateSigningRequests, '', name, { preconditions: { uid: csr.metadata.uid } });
        deleted.push(name);
        log.info('deleted a certificate signing request', { csr: name, why });
      } catch (err) {
        if (!isNotFound(err)) log.error('cannot delete a certificate signing request', { csr: name, err });
      }
    }
    return deleted;
  }
}
