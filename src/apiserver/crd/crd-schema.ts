/**
 * The published schema of apiextensions.k8s.io/v1 CustomResourceDefinition (the schema table, generated from
 * k8s.io/api, does not hold apiextensions): what `kubectl explain crd.spec.versions` reads, and what a CRD is pruned
 * to on decode, so a misspelt field is reported under fieldValidation (Strict: 400) as for any typed kind. The
 * openAPIV3Schema of each version is free-form here; crd-validation.ts checks it.
 */
import type { JSONSchemaProps } from './json-schema.js';

const str = (description: string): JSONSchemaProps => ({ type: 'string', description });
const strList = (description: string): JSONSchemaProps => ({ type: 'array', items: { type: 'string' }, description, 'x-kubernetes-list-type': 'atomic' });
const bool = (description: string): JSONSchemaProps => ({ type: 'boolean', description });

const names: JSONSchemaProps = {
  type: 'object',
  description: 'CustomResourceDefinitionNames indicates the names to serve this CustomResourceDefinition',
  required: ['plural', 'kind'],
  properties: {
    plural: str('plural is the plural name of the resource to serve. The custom resources are served under `/apis/<group>/<version>/.../<plural>`. Must be all lowercase.'),
    singular: str('singular is the singular name of the resource. It must be all lowercase. Defaults to lowercased `kind`.'),
    kind: str('kind is the serialized kind of the resource. It is normally CamelCase and singular. Custom resource instances will use this value as the `kind` attribute in API calls.'),
    listKind: str('listKind is the serialized kind of the list for this resource. Defaults to "`kind`List".'),
    shortNames: strList('shortNames are short names for the resource, exposed in API discovery documents, and used by clients to support invocations like `kubectl get <shortname>`. It must be all lowercase.'),
    categories: strList('categories is a list of grouped resources this custom resource belongs to (e.g. \'all\'). This is published in API discovery documents, and used by clients to support invocations like `kubectl get all`.'),
  },
};

const version: JSONSchemaProps = {
  type: 'object',
  description: 'CustomResourceDefinitionVersion describes a version for CRD.',
  required: ['name', 'served', 'storage'],
  properties: {
    name: str('name is the version name, e.g. “v1”, “v2beta1”, etc. The custom resources are served under this version at `/apis/<group>/<version>/...` if `served` is true.'),
    served: bool('served is a flag enabling/disabling this version from being served via REST APIs'),
    storage: bool('storage indicates this version should be used when persisting custom resources to storage. There must be exactly one version with storage=true.'),
    deprecated: bool('deprecated indicates this version of the custom resource API is deprecated.'),
    deprecationWarning: str('deprecationWarning overrides the default warning returned to API clients.'),
    schema: {
      type: 'object',
      description: 'schema describes the schema used for validation, pruning, and defaulting of this version of the custom resource.',
      properties: { openAPIV3Schema: { type: 'object', description: 'openAPIV3Schema is the OpenAPI v3 schema to use for validation and pruning.', 'x-kubernetes-preserve-unknown-fields': true } },
    },
    subresources: {
      type: 'object',
      description: 'subresources specify what subresources this version of the defined custom resource have.',
      properties: {
        status: { type: 'object', description: 'status indicates the custom resource should serve a `/status` subresource.', 'x-kubernetes-preserve-unknown-fields': true },
        scale: {
          type: 'object',
          description: 'scale indicates the custom resource should serve a `/scale` subresource that returns an `autoscaling/v1` Scale object.',
          required: ['specReplicasPath', 'statusReplicasPath'],
          properties: {
            specReplicasPath: str('specReplicasPath defines the JSON path inside of a custom resource that corresponds to Scale `spec.replicas`.'),
            statusReplicasPath: str('statusReplicasPath defines the JSON path inside of a custom resource that corresponds to Scale `status.replicas`.'),
            labelSelectorPath: str('labelSelectorPath defines the JSON path inside of a custom resource that corresponds to Scale `status.selector`.'),
          },
        },
      },
    },
    additionalPrinterColumns: {
      type: 'array',
      description: 'additionalPrinterColumns specifies additional columns returned in Table output.',
      'x-kubernetes-list-type': 'atomic',
      items: {
        type: 'object',
        required: ['name', 'type', 'jsonPath'],
        properties: {
          name: str('name is a human readable name for the column.'),
          type: str('type is an OpenAPI type definition for this column: integer, number, string, boolean or date.'),
          format: str('format is an optional OpenAPI type definition for this column.'),
          description: str('description is a human readable description of this column.'),
          priority: { type: 'integer', format: 'int32', description: 'priority is an integer defining the relative importance of this column compared to others. Columns with priority greater than zero are shown with -o wide.' },
          jsonPath: str('jsonPath is a simple JSON path (i.e. with array notation) which is evaluated against each custom resource to produce the value for this column.'),
        },
      },
    },
    selectableFields: {
      type: 'array',
      description: 'selectableFields specifies paths to fields that may be used as field selectors.',
      'x-kubernetes-list-type': 'atomic',
      items: { type: 'object', required: ['jsonPath'], properties: { jsonPath: str('jsonPath is a simple JSON path which is evaluated against each custom resource to produce a field selector value.') } },
    },
  },
};

const serviceReference: JSONSchemaProps = {
  type: 'object',
  description: 'service is a reference to the service for this webhook.',
  required: ['namespace', 'name'],
  properties: { namespace: str('namespace is the namespace of the service.'), name: str('name is the name of the service.'), path: str('path is an optional URL path at which the webhook will be contacted.'), port: { type: 'integer', format: 'int32', description: 'port is an optional service port at which the webhook will be contacted.' } },
};

const condition: JSONSchemaProps = {
  type: 'object',
  description: 'CustomResourceDefinitionCondition contains details for the current condition of this pod.',
  required: ['type', 'status'],
  properties: {
    type: str('type is the type of the condition. Types include Established, NamesAccepted and Terminating.'),
    status: str('status is the status of the condition. Can be True, False, Unknown.'),
    lastTransitionTime: { type: 'string', format: 'date-time', description: 'lastTransitionTime last time the condition transitioned from one status to another.' },
    reason: str("reason is a unique, one-word, CamelCase reason for the condition's last transition."),
    message: str('message is a human-readable message indicating details about last transition.'),
  },
};

/** The structural schema CRDs are pruned to (the root carries apiVersion/kind/metadata implicitly). */
export const CRD_SCHEMA: JSONSchemaProps = {
  type: 'object',
  description: 'CustomResourceDefinition represents a resource that should be exposed on the API server. Its name MUST be in the format <.spec.name>.<.spec.group>.',
  required: ['spec'],
  properties: {
    spec: {
      type: 'object',
      description: 'spec describes how the user wants the resources to appear',
      required: ['group', 'names', 'scope', 'versions'],
      properties: {
        group: str('group is the API group of the defined custom resource. The custom resources are served under `/apis/<group>/...`. Must match the name of the CustomResourceDefinition (in the form `<names.plural>.<group>`).'),
        names: names,
        scope: str('scope indicates whether the defined custom resource is cluster- or namespace-scoped. Allowed values are `Cluster` and `Namespaced`.'),
        versions: { type: 'array', description: 'versions is the list of all API versions of the defined custom resource.', 'x-kubernetes-list-type': 'atomic', items: version },
        conversion: {
          type: 'object',
          description: 'conversion defines conversion settings for the CRD.',
          required: ['strategy'],
          properties: {
            strategy: str('strategy specifies how custom resources are converted between versions. Allowed values are: None and Webhook.'),
            webhook: {
              type: 'object',
              description: 'webhook describes how to call the conversion webhook. Required when `strategy` is set to `Webhook`.',
              properties: {
                clientConfig: { type: 'object', description: 'clientConfig is the instructions for how to call the webhook if strategy is `Webhook`.', properties: { url: str('url gives the location of the webhook, in standard URL form.'), caBundle: { type: 'string', format: 'byte', description: 'caBundle is a PEM encoded CA bundle which will be used to validate the webhook\'s server certificate.' }, service: serviceReference } },
                conversionReviewVersions: strList('conversionReviewVersions is an ordered list of preferred `ConversionReview` versions the Webhook expects.'),
              },
            },
          },
        },
        preserveUnknownFields: bool('preserveUnknownFields indicates that object fields which are not specified in the OpenAPI schema should be preserved when persisting to storage. Must be false in v1.'),
      },
    },
    status: {
      type: 'object',
      description: 'status indicates the actual state of the CustomResourceDefinition',
      properties: {
        conditions: { type: 'array', description: 'conditions indicate state for particular aspects of a CustomResourceDefinition', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'], items: condition },
        acceptedNames: { ...names, description: 'acceptedNames are the names that are actually being used to serve discovery.' },
        storedVersions: strList('storedVersions lists all versions of CustomResources that were ever persisted.'),
      },
    },
  },
};
