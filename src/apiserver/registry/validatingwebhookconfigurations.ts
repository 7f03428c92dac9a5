/** admissionregistration.k8s.io/v1 ValidatingWebhookConfigurations (rules shared with mutatingwebhookconfigurations.ts). */
import type { ValidatingWebhookConfiguration } from 'kubernetes-types/admissionregistration/v1.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { defaultWebhook, validateWebhooks, webhookConfigurationPrinter, webhooksOf, type AnyWebhook } from './mutatingwebhookconfigurations.js';
import { as } from './table-columns.js';

export const validatingwebhookconfigurations = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingWebhookConfiguration',
  plural: 'validatingwebhookconfigurations',
  singular: 'validatingwebhookconfiguration',
  namespaced: false,
  categories: ['api-extensions'],
  hasStatus: false,
  schemaName: 'io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    for (const hook of as<ValidatingWebhookConfiguration>(obj).webhooks ?? []) defaultWebhook(hook as AnyWebhook, false);
  },
  validateSpec(obj) {
    return validateWebhooks(webhooksOf(obj), false);
  },
  printer: webhookConfigurationPrinter,
});
