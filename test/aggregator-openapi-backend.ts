/**
 * A small extension API server for the aggregation e2e tests (namespace deletion, OpenAPI aggregation): HTTPS on
 * 127.0.0.1:0 with a self-signed certificate for `<service>.default.svc`, one namespaced resource `gizmos`
 * (kind Gizmo) of GROUP/VERSION kept in memory, its discovery, /openapi/v2 (with ETag and 304) and /openapi/v3
 * (index + group-version document), and a switch that makes every request answer 503 (a backend that is down).
 * `register` makes the Service, EndpointSlice and APIService that put it behind a skiff server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedServingCert } from './helpers/serving-cert.js';
import type { TestServer } from './helpers/test-server.js';

export const GROUP = 'gizmos.example.com';
export const VERSION = 'v1';

export interface GizmoBackend {
  server: https.Server;
  port: number;
  cert: string;
  /** namespace -> names of the gizmos in it. */
  gizmos: Map<string, Set<string>>;
  /** `METHOD path` of every request, in order. */
  requests: string[];
  /** false: every request answers 503. */
  up: boolean;
  /** A description in the Gizmo schema, to see a changed spec reach the merged documents. */
  description: string;
  stop(): Promise<void>;
}

const gvk = [{ group: GROUP, version: VERSION, kind: 'Gizmo' }];

function swagger(description: string): unknown {
  const base = `/apis/${GROUP}/${VERSION}`;
  return {
    swagger: '2.0',
    info: { title: 'gizmo-apiserver', version: VERSION },
    paths: {
      [`${base}/namespaces/{namespace}/gizmos`]: {
        get: {
          operationId: 'listGizmos',
          produces: ['application/json'],
          responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/com.example.gizmos.v1.GizmoList' } } },
          'x-kubernetes-action': 'list',
          'x-kubernetes-group-version-kind': gvk[0],
        },
        parameters: [{ name: 'namespace', in: 'path', required: true, type: 'string', uniqueItems: true }],
      },
      // Outside the group version: never merged.
      '/version': { get: { operationId: 'getGizmoVersion', responses: { '200': { description: 'OK' } } } },
    },
    definitions: {
      'com.example.gizmos.v1.Gizmo': {
        description,
        type: 'object',
        properties: {
          apiVersion: { type: 'string', description: 'APIVersion of the gizmo.' },
          kind: { type: 'string', description: 'Kind of the gizmo.' },
          metadata: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', description: 'Standard object metadata.' },
          spec: { description: 'What the gizmo should do.', type: 'object', properties: { teeth: { description: 'How many teeth the gizmo has.', type: 'integer', format: 'int32' } } },
        },
        'x-kubernetes-group-version-kind': gvk,
      },
      'com.example.gizmos.v1.GizmoList': {
        type: 'object',
        required: ['items'],
        properties: { items: { type: 'array', items: { $ref: '#/definitions/com.example.gizmos.v1.Gizmo' } } },
        'x-kubernetes-group-version-kind': [{ ...gvk[0], kind: 'GizmoList' }],
      },
      // The same name as skiff's, with another content: the merged document renames it.
      'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { description: 'The gizmo server has its own, shorter ObjectMeta.', type: 'object', properties: { name: { type: 'string', description: 'Name.' } } },
      'com.example.gizmos.v1.Unused': { type: 'object', description: 'Referenced by nothing in the group version.' },
    },
  };
}

function openApiV3Document(description: string): unknown {
  return {
    openapi: '3.0.0',
    info: { title: 'gizmo-apiserver', version: VERSION },
    paths: {
      [`/apis/${GROUP}/${VERSION}/namespaces/{namespace}/gizmos`]: {
        get: { operationId: 'listGizmos', responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/com.example.gizmos.v1.GizmoList' } } } } }, 'x-kubernetes-action': 'list', 'x-kubernetes-group-version-kind': gvk[0] },
      },
    },
    components: {
      schemas: {
        'com.example.gizmos.v1.Gizmo': {
          description,
          type: 'object',
          properties: {
            apiVersion: { type: 'string', description: 'APIVersion of the gizmo.' },
            kind: { type: 'string', description: 'Kind of the gizmo.' },
            metadata: { type: 'object', description: 'Standard object metadata.' },
            spec: { description: 'What the gizmo should do.', type: 'object', properties: { teeth: { description: 'How many teeth the gizmo has.', type: 'integer', format: 'int32' } } },
          },
          'x-kubernetes-group-version-kind': gvk,
        },
        'com.example.gizmos.v1.GizmoList': {
          type: 'object',
          required: ['items'],
          properties: { items: { type: 'array', items: { $ref: '#/components/schemas/com.example.gizmos.v1.Gizmo' } } },
          'x-kubernetes-group-version-kind': [{ ...gvk[0], kind: 'GizmoList' }],
        },
      },
    },
  };
}

const sha512 = (text: string) => createHash('sha512').update(text).digest('hex').toUpperCase();

export async function startGizmoBackend(serviceName: string): Promise<GizmoBackend> {
  const tls = await selfSignedServingCert(`${serviceName}.default.svc`, '02');
  const backend = { gizmos: new Map<string, Set<string>>(), requests: [] as string[], up: true, description: 'A gizmo does gizmo things.' } as GizmoBackend;
  const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname;
    backend.requests.push(`${req.method} ${path}`);
    const send = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
      res.end(text);
    };
    if (!backend.up) return send(503, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'ServiceUnavailable', code: 503, message: 'the gizmo server is down' });
    if (path === `/apis/${GROUP}/${VERSION}`) {
      return send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${GROUP}/${VERSION}`, resources: [{ name: 'gizmos', singularName: 'gizmo', namespaced: true, kind: 'Gizmo', verbs: ['delete', 'deletecollection', 'get', 'list'] }] });
    }
    if (path === '/openapi/v2') {
      const text = JSON.stringify(swagger(backend.description));
      const etag = `"${sha512(text)}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { Etag: etag });
        return res.end();
      }
      res.writeHead(200, { 'Content-Type': 'application/json', Etag: etag });
      return res.end(text);
    }
    const v3 = JSON.stringify(openApiV3Document(backend.description));
    if (path === '/openapi/v3') {
      return send(200, { paths: { [`apis/${GROUP}/${VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP}/${VERSION}?hash=${sha512(v3)}` }, version: { serverRelativeURL: '/openapi/v3/version?hash=00' } } });
    }
    if (path === `/openapi/v3/apis/${GROUP}/${VERSION}`) {
      res.writeHead(200, { 'Content-Type': 'application/json', Etag: `"${sha512(v3)}"` });
      return res.end(v3);
    }
    const m = /^\/apis\/gizmos\.example\.com\/v1\/namespaces\/([^/]+)\/gizmos(?:\/([^/]+))?$/.exec(path);
    if (m) {
      const ns = m[1]!;
      const names = backend.gizmos.get(ns) ?? new Set<string>();
      const gizmo = (name: string) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'Gizmo', metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' } });
      const list = () => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'GizmoList', metadata: { resourceVersion: '1' }, items: [...names].map(gizmo) });
      if (!m[2] && req.method === 'GET') return send(200, list());
      if (!m[2] && req.method === 'DELETE') {
        const deleted = list();
        backend.gizmos.delete(ns);
        return send(200, deleted);
      }
      if (m[2] && names.has(m[2])) {
        if (req.method === 'GET') return send(200, gizmo(m[2]));
        if (req.method === 'DELETE') {
          names.delete(m[2]);
          return send(200, gizmo(m[2]));
        }
      }
    }
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.server = server;
  backend.port = (server.address() as AddressInfo).port;
  backend.cert = tls.cert;
  backend.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return backend;
}

/** The Service (port 443 -> the backend), its EndpointSlice on 127.0.0.1 and the APIService for GROUP/VERSION. */
export async function registerGizmoBackend(s: TestServer, serviceName: string, backend: GizmoBackend): Promise<void> {
  const svc = await s.request('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: serviceName }, spec: { ports: [{ name: 'https', port: 443, targetPort: backend.port }] } });
  assert.equal(svc.status, 201, svc.text);
  const slice = await s.request('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${serviceName}-1`, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: 'https', port: backend.port, protocol: 'TCP' }],
  });
  assert.equal(slice.status, 201, slice.text);
  const apiService = await s.request('POST', '/apis/apiregistration.k8s.io/v1/apiservices', {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: `${VERSION}.${GROUP}` },
    spec: { group: GROUP, version: VERSION, service: { namespace: 'default', name: serviceName }, caBundle: Buffer.from(backend.cert).toString('base64'), groupPriorityMinimum: 1000, versionPriority: 15 },
  });
  assert.equal(apiService.status, 201, apiService.text);
}

/** The Available condition's status of the backend's APIService ('True', 'False' or undefined). */
export async function gizmoAvailable(s: TestServer): Promise<string | undefined> {
  const a = await s.request('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${VERSION}.${GROUP}`);
  return (a.json?.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Available')?.status;
}
