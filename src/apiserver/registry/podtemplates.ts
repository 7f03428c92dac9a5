/** core/v1 PodTemplates: a stored pod template (validation.ValidatePodTemplate), no status. */
import type { PodTemplate } from 'kubernetes-types/core/v1.js';
import { formatLabels } from '../../api/labels.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { defaultPodTemplate, validatePodTemplate } from './pod-spec.js';
import { as, column, containerCells, nameColumn } from './table-columns.js';

export const podtemplates = defineResource({
  group: '',
  version: 'v1',
  kind: 'PodTemplate',
  plural: 'podtemplates',
  singular: 'podtemplate',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.PodTemplate',
  // Upstream's podTemplateStrategy bumps generation on any template change.
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    defaultPodTemplate(as<PodTemplate>(obj).template);
  },
  validateSpec(obj) {
    return validatePodTemplate(as<PodTemplate>(obj).template, 'template');
  },
  printer: {
    columns: [
      nameColumn,
      column('Containers', 'Names of each container in the template.'),
      column('Images', 'Images referenced by each container in the template.'),
      column('Pod Labels', 'The labels for the pod template.'),
    ],
    row(obj) {
      const pt = as<PodTemplate>(obj);
      const [names, images] = containerCells(pt.template?.spec?.containers);
      return [obj.metadata.name ?? '', names, images, formatLabels(pt.template?.metadata?.labels)];
    },
  },
});
