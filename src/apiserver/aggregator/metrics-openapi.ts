/**
 * The OpenAPI v3 document of metrics.k8s.io/v1beta1 as metrics-server publishes it (k8s.io/metrics types), for the
 * built-in metrics API that skiff serves in process (../../metrics/): it has no backend to fetch a document from, so
 * this one is merged like an APIService's (openapi-aggregator.ts), and `kubectl explain nodemetrics` works.
 */
import { componentSchemas, schemaRef, type JsonSchema } from '../openapi/component-schemas.js';

const GROUP = 'metrics.k8s.io';
const VERSION = 'v1beta1';
const PKG = 'io.k8s.metrics.pkg.apis.metrics.v1beta1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

const typeMeta = {
  apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
  kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
};
const usage = (of: string): JsonSchema => ({ type: 'object', additionalProperties: schemaRef(QUANTITY), description: `The memory usage is the memory working set. ${of}` });
const sampled = {
  timestamp: { allOf: [schemaRef(`${META}Time`)], description: 'The following fields define time interval from which metrics were collected from the interval [Timestamp-Window, Timestamp].' },
  window: { type: 'string' },
};

function schemas(): Map<string, JsonSchema> {
  const list = (kind: string, item: string): JsonSchema => ({
    description: `${kind} is a list of ${item}.`,
    type: 'object',
    required: ['items'],
    properties: {
      ...typeMeta,
      items: { type: 'array', items: schemaRef(`${PKG}${item}`), description: `List of ${item.replace('Metrics', '').toLowerCase()} metrics.` },
      metadata: { allOf: [schemaRef(`${META}ListMeta`)], description: 'Standard list metadata.' },
    },
  });
  return new Map<string, JsonSchema>([
    [
      `${PKG}NodeMetrics`,
      {
        description: 'NodeMetrics sets resource usage metrics of a node.',
        type: 'object',
        required: ['timestamp', 'window', 'usage'],
        properties: { ...typeMeta, metadata: { allOf: [schemaRef(`${META}ObjectMeta`)], description: "Standard object's metadata." }, ...sampled, usage: usage('The resource usage of the node.') },
      },
    ],
    [
      `${PKG}PodMetrics`,
      {
        description: 'PodMetrics sets resource usage metrics of a pod.',
        type: 'object',
        required: ['timestamp', 'window', 'containers'],
        properties: {
          ...typeMeta,
          metadata: { allOf: [schemaRef(`${META}ObjectMeta`)], description: "Standard object's metadata." },
          ...sampled,
          containers: { type: 'array', items: schemaRef(`${PKG}ContainerMetrics`), description: 'Metrics for all containers are collected within the same time window.', 'x-kubernetes-list-type': 'atomic' },
        },
      },
    ],
    [
      `${PKG}ContainerMetrics`,
      {
        description: 'ContainerMetrics sets resource usage metrics of a container.',
        type: 'object',
        required: ['name', 'usage'],
        properties: { name: { type: 'string', default: '', description: 'Container name corresponding to the one from pod.spec.containers.' }, usage: usage('The resource usage of the container.') },
      },
    ],
    [`${PKG}NodeMetricsList`, list('NodeMetricsList', 'NodeMetrics')],
    [`${PKG}PodMetricsList`, list('PodMetricsList', 'PodMetrics')],
  ]);
}

const gvk = (kind: string) => ({ group: GROUP, version: VERSION, kind });

function operation(action: 'get' | 'list', kind: string, schema: string, params: string[]): JsonSchema {
  return {
    description: action === 'list' ? `list objects of kind ${kind}` : `read the specified ${kind}`,
    operationId: `${action === 'list' ? 'list' : 'read'}MetricsV1beta1${action === 'list' ? '' : 'Namespaced'}${kind}`,
    tags: ['metrics_v1beta1'],
    parameters: params.map((name) => ({ name, in: 'path', required: true, description: name === 'name' ? `name of the ${kind}` : 'object name and auth scope, such as for teams and projects', schema: { type: 'string' } })),
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: schemaRef(schema) } } }, '401': { description: 'Unauthorized' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(kind),
  };
}

/** The group version's document: read-only paths (get, list) for nodes and pods, and their schemas. */
export function metricsOpenApiV3(): JsonSchema {
  const base = `/apis/${GROUP}/${VERSION}`;
  const paths: Record<string, JsonSchema> = {
    [`${base}/nodes`]: { get: operation('list', 'NodeMetrics', `${PKG}NodeMetricsList`, []) },
    [`${base}/nodes/{name}`]: { get: operation('get', 'NodeMetrics', `${PKG}NodeMetrics`, ['name']) },
    [`${base}/pods`]: { get: operation('list', 'PodMetrics', `${PKG}PodMetricsList`, []) },
    [`${base}/namespaces/{namespace}/pods`]: { get: operation('list', 'PodMetrics', `${PKG}PodMetricsList`, ['namespace']) },
    [`${base}/namespaces/{namespace}/pods/{name}`]: { get: operation('get', 'PodMetrics', `${PKG}PodMetrics`, ['name', 'namespace']) },
  };
  const synthetic = schemas();
  const gvks = new Map([...synthetic.keys()].filter((n) => !n.endsWith('ContainerMetrics')).map((n) => [n, [gvk(n.slice(PKG.length))]]));
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas: componentSchemas({ roots: [...synthetic.keys()], gvks, synthetic }) },
  };
}
