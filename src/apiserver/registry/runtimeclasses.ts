/**
 * node.k8s.io/v1 RuntimeClasses (pkg/apis/node/validation): the CRI handler a pod runs with, the pod overhead it adds
 * and the scheduling constraints it implies. The RuntimeClass admission plugin (../admission/runtime-class.ts) applies
 * the overhead and scheduling to pods that name one.
 */
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import { tryParseQuantity } from '../../api/quantity.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1123Label, isQualifiedName, nameIsDNSSubdomain, validateImmutableField, validateLabels } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const tolerationOperators = ['Equal', 'Exists'];
const tolerationEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function validateOverhead(rc: RuntimeClass): FieldError[] {
  const errs: FieldError[] = [];
  for (const [name, value] of Object.entries(rc.overhead?.podFixed ?? {})) {
    const path = `overhead.podFixed[${name}]`;
    for (const msg of isQualifiedName(name)) errs.push(fieldInvalid(path, name, msg));
    const q = tryParseQuantity(String(value));
    if (!q) errs.push(fieldInvalid(path, value, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
    else if (q.nanos < 0n) errs.push(fieldInvalid(path, value, 'must be greater than or equal to 0'));
  }
  return errs;
}

function validateScheduling(rc: RuntimeClass): FieldError[] {
  const s = rc.scheduling;
  if (!s) return [];
  const errs = validateLabels(s.nodeSelector, 'scheduling.nodeSelector');
  (s.tolerations ?? []).forEach((t, i) => {
    const p = `scheduling.tolerations[${i}]`;
    if (t.key) for (const msg of isQualifiedName(t.key)) errs.push(fieldInvalid(`${p}.key`, t.key, msg));
    if (!t.key && t.operator !== 'Exists') errs.push(fieldInvalid(`${p}.operator`, t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.operator && !tolerationOperators.includes(t.operator)) errs.push(fieldNotSupported(`${p}.operator`, t.operator, tolerationOperators));
    if (t.operator === 'Exists' && t.value) errs.push(fieldInvalid(`${p}.operator`, t.value, 'value must be empty when `operator` is \'Exists\''));
    if (t.effect && !tolerationEffects.includes(t.effect)) errs.push(fieldNotSupported(`${p}.effect`, t.effect, tolerationEffects));
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      errs.push(fieldInvalid(`${p}.effect`, t.effect ?? '', 'effect must be \'NoExecute\' when `tolerationSeconds` is set'));
    }
  });
  return errs;
}

export const runtimeclasses = defineResource({
  group: 'node.k8s.io',
  version: 'v1',
  kind: 'RuntimeClass',
  plural: 'runtimeclasses',
  singular: 'runtimeclass',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.node.v1.RuntimeClass',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const rc = as<RuntimeClass>(obj);
    const errs: FieldError[] = [];
    if (!rc.handler) errs.push(fieldRequired('handler'));
    else for (const msg of isDNS1123Label(rc.handler)) errs.push(fieldInvalid('handler', rc.handler, msg));
    errs.push(...validateOverhead(rc), ...validateScheduling(rc));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    return validateImmutableField(as<RuntimeClass>(obj).handler, as<RuntimeClass>(old).handler, 'handler');
  },
  printer: {
    columns: [nameColumn, column('Handler', 'Specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<RuntimeClass>(obj).handler ?? '', age(obj, now)];
    },
  },
});
