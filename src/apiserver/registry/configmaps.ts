/** core/v1 ConfigMaps: key rules, the 1 MiB limit, `immutable: true`, and the DATA count column. */
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fieldForbidden, fieldInvalid, type FieldError } from '../../api/status.js';
import { deepEqual, isConfigMapKey, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** Upstream MaxSecretSize, also applied to ConfigMaps. */
export const MaxDataSize = 1024 * 1024;

/** Keys valid, no key in both maps, total size within 1 MiB (ValidateConfigMap / ValidateSecret). */
export function validateDataKeys(data: Record<string, string> | undefined, binaryData: Record<string, string> | undefined, dataPath: string, binaryPath: string, decodedSize: (v: string) => number, str = (v: string) => Buffer.byteLength(v)): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(data ?? {})) {
    for (const msg of isConfigMapKey(k)) errs.push(fieldInvalid(`${dataPath}[${k}]`, k, msg));
    total += str(v);
  }
  for (const [k, v] of Object.entries(binaryData ?? {})) {
    for (const msg of isConfigMapKey(k)) errs.push(fieldInvalid(`${binaryPath}[${k}]`, k, msg));
    if (data && Object.prototype.hasOwnProperty.call(data, k)) errs.push(fieldInvalid(`${binaryPath}[${k}]`, k, `duplicate of key present in ${dataPath}`));
    total += decodedSize(v);
  }
  if (total > MaxDataSize) errs.push({ type: 'FieldValueTooLong', field: '', detail: `Too long: may not be more than ${MaxDataSize} bytes` });
  return errs;
}

/** Size of base64 data once decoded. */
export function base64Size(v: string): number {
  return Buffer.from(v, 'base64').length;
}

/** Rules of `immutable: true` objects (ConfigMaps and Secrets): data frozen, flag cannot be unset. */
export function validateImmutableData(obj: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(fieldForbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (!deepEqual(obj[f] ?? {}, old[f] ?? {})) errs.push(fieldForbidden(f, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

export const configmaps = defineResource({
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  singular: 'configmap',
  namespaced: true,
  shortNames: ['cm'],
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.ConfigMap',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const cm = as<ConfigMap>(obj);
    return validateDataKeys(cm.data, cm.binaryData, 'data', 'binaryData', base64Size);
  },
  validateSpecUpdate: (obj, old) => validateImmutableData(obj, old, ['data', 'binaryData']),
  printer: {
    columns: [nameColumn, column('Data', 'Data contains the configuration data.'), ageColumn],
    row(obj, now) {
      const cm = as<ConfigMap>(obj);
      return [obj.metadata.name ?? '', Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, age(obj, now)];
    },
  },
});
