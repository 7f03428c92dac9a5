/** core/v1 LimitRanges: limit types and quantities; printed like upstream, which has no printer for them. */
import type { LimitRangeSpec } from 'kubernetes-types/core/v1.js';
import { isValidQuantity } from '../../api/quantity.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { createdAtPrinter } from './table-columns.js';

const limitTypes = ['Container', 'Pod', 'PersistentVolumeClaim'];

export const limitranges = defineResource({
  group: '',
  version: 'v1',
  kind: 'LimitRange',
  plural: 'limitranges',
  singular: 'limitrange',
  namespaced: true,
  shortNames: ['limits'],
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.LimitRange',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as LimitRangeSpec;
    const errs: FieldError[] = [];
    (spec.limits ?? []).forEach((l, i) => {
      const lp = `spec.limits[${i}]`;
      if (!l.type) errs.push(fieldRequired(`${lp}.type`));
      else if (!limitTypes.includes(l.type)) errs.push(fieldNotSupported(`${lp}.type`, l.type, limitTypes));
      for (const field of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const) {
        for (const [k, v] of Object.entries(l[field] ?? {})) {
          if (!isValidQuantity(String(v))) errs.push(fieldInvalid(`${lp}.${field}[${k}]`, v, 'must be a valid quantity'));
        }
      }
    });
    return errs;
  },
  printer: createdAtPrinter,
});
