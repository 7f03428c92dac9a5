/** networking.k8s.io/v1 IngressClasses: which controller implements a class, and the default-class annotation. */
import type { IngressClass } from 'kubernetes-types/networking/v1.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

// validation.ValidateIngressClass: the controller is a domain-prefixed path of at most 250 characters, immutable.
const CONTROLLER = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[^\s]*$/;

export const ingressclasses = defineResource({
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'IngressClass',
  plural: 'ingressclasses',
  singular: 'ingressclass',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.networking.v1.IngressClass',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const controller = as<IngressClass>(obj).spec?.controller;
    const errs: FieldError[] = [];
    if (!controller) errs.push(fieldRequired('spec.controller'));
    else if (controller.length > 250) errs.push(fieldInvalid('spec.controller', controller, 'must be no more than 250 characters'));
    else if (!CONTROLLER.test(controller)) errs.push(fieldInvalid('spec.controller', controller, 'must be a domain-prefixed path (such as "acme.io/foo")'));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    const controller = as<IngressClass>(obj).spec?.controller;
    if (controller === as<IngressClass>(old).spec?.controller) return [];
    return [fieldInvalid('spec.controller', controller ?? '', 'field is immutable')];
  },
  printer: {
    columns: [nameColumn, column('Controller', 'Controller that is responsible for handling this class'), column('Parameters', 'A reference to a resource with additional parameters'), ageColumn],
    row(obj, now) {
      const ic = as<IngressClass>(obj);
      const p = ic.spec?.parameters;
      return [obj.metadata.name ?? '', ic.spec?.controller ?? '', p ? `${p.kind}/${p.name}` : '<none>', age(obj, now)];
    },
  },
});
