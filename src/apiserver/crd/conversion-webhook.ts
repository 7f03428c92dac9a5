/**
 * Webhook conversion of custom objects (apiextensions-apiserver's webhookConverter): objects not already in the
 * desired version are sent in one ConversionReview to the CRD's `spec.conversion.webhook.clientConfig` over the
 * admission webhooks' HTTPS client (../admission/webhook/webhook-client.ts: url or Service endpoints, caBundle,
 * pooled keep-alive connections, the whole call bounded). The answer is checked by conversion-review.ts.
 *
 * Errors are 500 Statuses without a reason, as kube-apiserver answers a conversion error (ErrorToAPIStatus of a plain
 * error), so kubectl prints `Error from server: conversion webhook for stable.example.com/v1, Kind=CronTab failed:
 * Post "https://…/convert?timeout=30s": dial tcp 127.0.0.1:4443: connect: connection refused`.
 */
import { randomUUID } from 'node:crypto';
import type { WebhookClientConfig } from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { postReview, resolveTarget, WebhookCallError } from '../admission/webhook/webhook-client.js';
import type { AdmissionContext } from '../admission/types.js';
import { ConversionError, conversionReview, convertedObjects, gvkString, reviewVersionOf } from './conversion-review.js';

/** upstream's webhook client timeout for conversion (webhook.ClientManager's default; the CRD cannot set one). */
export const CONVERSION_TIMEOUT_MS = 30_000;

export interface ConversionWebhookConfig {
  clientConfig?: WebhookClientConfig;
  conversionReviewVersions?: string[];
}

/** Where Services and their endpoints are looked up (the watch cache, as for admission webhooks). */
export type ServiceLookup = Pick<AdmissionContext, 'cached' | 'list'>;

export class ConversionWebhook {
  constructor(
    private readonly config: ConversionWebhookConfig,
    private readonly services: ServiceLookup,
    private readonly timeoutMs = CONVERSION_TIMEOUT_MS,
  ) {}

  /**
   * `objects` in `desiredAPIVersion`, same order: those already in it are returned as they are, the others are
   * converted by one call (none when all are). Rejects with a StatusError (500) in upstream's words.
   */
  async convert(objects: readonly KubeObject[], desiredAPIVersion: string): Promise<KubeObject[]> {
    const sent = objects.filter((o) => o.apiVersion !== desiredAPIVersion && !isEmptyObject(o));
    if (sent.length === 0) return objects.map((o) => (o.apiVersion === desiredAPIVersion ? o : { ...o, apiVersion: desiredAPIVersion }));
    let converted: KubeObject[];
    try {
      converted = await this.call(sent, desiredAPIVersion);
    } catch (err) {
      if (err instanceof ConversionError) throw new StatusError({ code: 500, message: err.message });
      throw err;
    }
    let next = 0;
    return objects.map((o) => (sent.includes(o) ? converted[next++]! : o.apiVersion === desiredAPIVersion ? o : { ...o, apiVersion: desiredAPIVersion }));
  }

  private async call(sent: KubeObject[], desiredAPIVersion: string): Promise<KubeObject[]> {
    const gvk = gvkString(sent[0]!.apiVersion, sent[0]!.kind);
    const reviewVersion = reviewVersionOf(this.config.conversionReviewVersions);
    if (!reviewVersion) throw new ConversionError('no supported conversion review versions');
    const uid = randomUUID();
    const body = JSON.stringify(conversionReview(reviewVersion, uid, desiredAPIVersion, sent));
    let response: unknown;
    try {
      const cc = this.config.clientConfig ?? {};
      const target = resolveTarget(cc, Math.max(1, Math.round(this.timeoutMs / 1000)), asAdmissionContext(this.services));
      response = await postReview(target, cc.caBundle, body, this.timeoutMs);
    } catch (err) {
      // The conversion client's deadline is its http.Client timeout, which Go's net/http words so.
      const message = err instanceof WebhookCallError && err.message.endsWith(': context deadline exceeded') ? `${err.message} (Client.Timeout exceeded while awaiting headers)` : undefined;
      if (err instanceof WebhookCallError) throw new ConversionError(`conversion webhook for ${gvk} failed: ${message ?? err.message}`);
      throw err;
    }
    return convertedObjects({ reviewVersion, uid, desiredAPIVersion, sent, response });
  }
}

/** upstream does not call the webhook for an object with nothing but apiVersion and kind. */
function isEmptyObject(o: KubeObject): boolean {
  const keys = Object.keys(o);
  return keys.length === 2 && 'apiVersion' in o && 'kind' in o;
}

function asAdmissionContext(services: ServiceLookup): AdmissionContext {
  return { ...services, get: async (group, plural, namespace, name) => services.cached(group, plural, namespace, name) };
}
