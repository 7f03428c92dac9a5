/** core/v1 Secrets: stringData folded into data, type rules, immutability, and the TYPE/DATA table. */
import type { Secret } from 'kubernetes-types/core/v1.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { base64Size, validateDataKeys, validateImmutableData } from './configmaps.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** Keys each well-known type requires in data (ValidateSecret). */
const requiredKeys: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

function validateSecret(secret: Secret): FieldError[] {
  const errs = validateDataKeys(undefined, secret.data, 'data', 'data', base64Size);
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) errs.push(fieldInvalid(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
  }
  const type = secret.type ?? 'Opaque';
  for (const key of requiredKeys[type] ?? []) {
    if (!secret.data?.[key]) errs.push(fieldRequired(`data[${key}]`));
  }
  if (type === 'kubernetes.io/service-account-token' && !secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
    errs.push(fieldRequired('metadata.annotations[kubernetes.io/service-account.name]'));
  }
  if (type === 'kubernetes.io/basic-auth' && !secret.data?.username && !secret.data?.password) {
    errs.push(fieldRequired('data[username]'));
  }
  return errs;
}

export const secrets = defineResource({
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  singular: 'secret',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.Secret',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const secret = as<Secret>(obj);
    secret.type ??= 'Opaque';
    // stringData is write-only: it overwrites data keys and is never stored (v1 Secret conversion).
    if (secret.stringData) {
      secret.data ??= {};
      for (const [k, v] of Object.entries(secret.stringData)) secret.data[k] = Buffer.from(v, 'utf8').toString('base64');
      delete secret.stringData;
    }
  },
  validateSpec: (obj) => validateSecret(as<Secret>(obj)),
  validateSpecUpdate(obj, old) {
    return [...validateImmutableField(obj.type, old.type, 'type'), ...validateImmutableData(obj, old, ['data'])];
  },
  printer: {
    columns: [nameColumn, column('Type', 'Used to facilitate programmatic handling of secret data.'), column('Data', 'Data contains the secret data.'), ageColumn],
    row(obj, now) {
      const s = as<Secret>(obj);
      return [obj.metadata.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, age(obj, now)];
    },
  },
  fieldSelectors: {
    type: (o) => as<Secret>(o).type ?? '',
  },
});
