/**
 * flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfigurations (pkg/apis/flowcontrol/validation, v1 defaults): the
 * concurrency shares and queuing of a priority level. Served with the bootstrap objects; skiff does not enforce APF.
 */
import type { LimitedPriorityLevelConfiguration, PriorityLevelConfiguration, PriorityLevelConfigurationSpec } from 'kubernetes-types/flowcontrol/v1.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsPathSegment } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const levelTypes = ['Exempt', 'Limited'];
const responseTypes = ['Queue', 'Reject'];

function defaultLimited(l: LimitedPriorityLevelConfiguration): void {
  // v1 defaults: 30 shares (v1 keeps an explicit 0 as 0), lendablePercent 0, queuing 64 queues of 50, hand size 8.
  l.nominalConcurrencyShares ??= 30;
  l.lendablePercent ??= 0;
  l.limitResponse ??= { type: 'Queue' };
  if (l.limitResponse.type === 'Queue') {
    const q = (l.limitResponse.queuing ??= {});
    q.queues ??= 64;
    q.handSize ??= 8;
    q.queueLengthLimit ??= 50;
  }
}

/** The number of hands the shuffle-sharding dealer can deal (validateQueuingConfiguration's entropy bound). */
function entropyBits(queues: number, handSize: number): number {
  let bits = 0;
  for (let i = 0; i < handSize; i++) bits += Math.log2(queues - i) - Math.log2(i + 1);
  return bits;
}

export function validatePriorityLevelSpec(name: string, spec: PriorityLevelConfigurationSpec | undefined): FieldError[] {
  const s = spec ?? ({} as PriorityLevelConfigurationSpec);
  const errs: FieldError[] = [];
  if (!levelTypes.includes(s.type)) return [fieldNotSupported('spec.type', s.type ?? '', levelTypes)];
  if ((name === 'exempt') !== (s.type === 'Exempt')) errs.push(fieldInvalid('spec.type', s.type, "type must be 'Exempt' if and only if name is 'exempt'"));
  if (s.type === 'Exempt') {
    if (s.limited) errs.push(fieldForbidden('spec.limited', 'must be nil if the type is not Limited'));
    const e = s.exempt;
    if (e?.nominalConcurrencyShares !== undefined && e.nominalConcurrencyShares < 0) errs.push(fieldInvalid('spec.exempt.nominalConcurrencyShares', e.nominalConcurrencyShares, 'must be a non-negative integer'));
    if (e?.lendablePercent !== undefined && (e.lendablePercent < 0 || e.lendablePercent > 100)) errs.push(fieldInvalid('spec.exempt.lendablePercent', e.lendablePercent, 'must be between 0 and 100, inclusive'));
    return errs;
  }
  if (s.exempt) errs.push(fieldForbidden('spec.exempt', 'must be nil if the type is Limited'));
  const l = s.limited;
  if (!l) return [...errs, fieldRequired('spec.limited', 'must not be empty when type is Limited')];
  if ((l.nominalConcurrencyShares ?? 0) < 0) errs.push(fieldInvalid('spec.limited.nominalConcurrencyShares', l.nominalConcurrencyShares, 'must be a non-negative integer'));
  if (l.lendablePercent !== undefined && (l.lendablePercent < 0 || l.lendablePercent > 100)) errs.push(fieldInvalid('spec.limited.lendablePercent', l.lendablePercent, 'must be between 0 and 100, inclusive'));
  if (l.borrowingLimitPercent !== undefined && l.borrowingLimitPercent < 0) errs.push(fieldInvalid('spec.limited.borrowingLimitPercent', l.borrowingLimitPercent, 'if specified, must be a non-negative integer'));
  const lr = l.limitResponse;
  if (!lr || !responseTypes.includes(lr.type)) errs.push(fieldNotSupported('spec.limited.limitResponse.type', lr?.type ?? '', responseTypes));
  else if (lr.type === 'Reject' && lr.queuing) errs.push(fieldForbidden('spec.limited.limitResponse.queuing', 'must be nil if limited.limitResponse.type is not Limited'));
  else if (lr.type === 'Queue') {
    const q = lr.queuing;
    if (!q) errs.push(fieldRequired('spec.limited.limitResponse.queuing', 'must not be empty if limited.limitResponse.type is Limited'));
    else {
      const qp = 'spec.limited.limitResponse.queuing';
      const queues = q.queues ?? 0;
      const hand = q.handSize ?? 0;
      if ((q.queueLengthLimit ?? 0) <= 0) errs.push(fieldInvalid(`${qp}.queueLengthLimit`, q.queueLengthLimit, 'must be positive'));
      if (queues <= 0) errs.push(fieldInvalid(`${qp}.queues`, queues, 'must be positive'));
      else if (queues > 512) errs.push(fieldInvalid(`${qp}.queues`, queues, 'must not be greater than 512'));
      if (hand <= 0) errs.push(fieldInvalid(`${qp}.handSize`, hand, 'must be positive'));
      else if (hand > queues) errs.push(fieldInvalid(`${qp}.handSize`, hand, `should not be greater than queues (${queues})`));
      else if (entropyBits(queues, hand) > 60) errs.push(fieldInvalid(`${qp}.handSize`, hand, `required entropy bits of deckSize ${queues} and handSize ${hand} should not be greater than 60`));
    }
  }
  return errs;
}

export const prioritylevelconfigurations = defineResource({
  group: 'flowcontrol.apiserver.k8s.io',
  version: 'v1',
  kind: 'PriorityLevelConfiguration',
  plural: 'prioritylevelconfigurations',
  singular: 'prioritylevelconfiguration',
  namespaced: false,
  hasStatus: true,
  schemaName: 'io.k8s.api.flowcontrol.v1.PriorityLevelConfiguration',
  tracksGeneration: true,
  nameValidator: nameIsPathSegment,
  defaults(obj) {
    const s = specOf<PriorityLevelConfigurationSpec>(obj);
    if (s.type === 'Limited' && s.limited) defaultLimited(s.limited);
    if (s.type === 'Exempt') {
      s.exempt ??= {};
      s.exempt.nominalConcurrencyShares ??= 0;
      s.exempt.lendablePercent ??= 0;
    }
  },
  validateSpec(obj) {
    return validatePriorityLevelSpec(obj.metadata.name ?? '', obj.spec as PriorityLevelConfigurationSpec | undefined);
  },
  printer: {
    columns: [
      nameColumn,
      column('Type', '`type` indicates whether this priority level is subject to limitation on request execution.  A value of `"Exempt"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `"Limited"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server\'s limited capacity is made available exclusively to this priority level. Required.'),
      column('NominalConcurrencyShares', 'nominalConcurrencyShares (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level.'),
      column('Queues', '`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.'),
      column('HandSize', "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8."),
      column('QueueLengthLimit', '`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.'),
      ageColumn,
    ],
    row(obj, now) {
      const s = as<PriorityLevelConfiguration>(obj).spec;
      const l = s?.limited;
      const q = l?.limitResponse?.queuing;
      return [
        obj.metadata.name ?? '',
        s?.type ?? '',
        l ? String(l.nominalConcurrencyShares ?? 0) : '<none>',
        q ? String(q.queues ?? 0) : '<none>',
        q ? String(q.handSize ?? 0) : '<none>',
        q ? String(q.queueLengthLimit ?? 0) : '<none>',
        age(obj, now),
      ];
    },
  },
});
