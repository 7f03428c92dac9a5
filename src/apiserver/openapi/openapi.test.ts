import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensurePki } from '../auth/pki.js';
import type { ResourceDefinition, Verb } from '../registry/types.js';
import { resources } from '../registry/index.js';
import { OpenApiV3 } from './openapi.js';

type Json = Record<string, any>;

function def(spec: Partial<ResourceDefinition> & Pick<ResourceDefinition, 'group' | 'version' | 'kind' | 'plural' | 'schemaName'>): ResourceDefinition {
  return {
    listKind: `${spec.kind}List`,
    singular: spec.kind.toLowerCase(),
    namespaced: true,
    hasStatus: false,
    tracksGeneration: false,
    strategy: { validate: () => [] },
    printer: { columns: [], row: () => [] },
    ...spec,
  };
}

const configmaps = def({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', schemaName: 'io.k8s.api.core.v1.ConfigMap' });
const pods = def({
  group: '',
  version: 'v1',
  kind: 'Pod',
  plural: 'pods',
  schemaName: 'io.k8s.api.core.v1.Pod',
  hasStatus: true,
  subresources: [
    { name: 'binding', kind: 'Binding', verbs: ['create'] },
    { name: 'log', kind: 'Pod', verbs: ['get'], connect: { methods: ['GET'] } },
  ],
});
const namespaces = def({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  schemaName: 'io.k8s.api.core.v1.Namespace',
  namespaced: false,
  hasStatus: true,
  subresources: [{ name: 'finalize', kind: 'Namespace', verbs: ['update'] }],
});
const deployments = def({
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  plural: 'deployments',
  schemaName: 'io.k8s.api.apps.v1.Deployment',
  hasStatus: true,
  scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas' },
});
const replicasets = def({ group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', schemaName: 'io.k8s.api.apps.v1.ReplicaSet' });
const leases = def({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  schemaName: 'io.k8s.api.coordination.v1.Lease',
  verbs: ['get', 'list', 'watch'] satisfies Verb[],
});
const RESOURCES = [configmaps, pods, namespaces, deployments, leases];

const DEPLOYMENT_ITEM = '/apis/apps/v1/namespaces/{namespace}/deployments/{name}';
const SMP = 'application/strategic-merge-patch+json';

function doc(api: OpenApiV3, key: string): Json {
  const json = api.documentJson(key);
  assert.ok(json, `no document for ${key}`);
  return JSON.parse(json);
}

function* operations(document: Json): Generator<[string, string, Json]> {
  for (const [path, item] of Object.entries<Json>(document.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) if (method !== 'parameters') yield [path, method, op];
  }
}

function* refs(value: unknown): Generator<string> {
  if (Array.isArray(value)) for (const v of value) yield* refs(v);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref') yield v as string;
      else yield* refs(v);
    }
  }
}

/** Resolves a property schema's target type name through `allOf: [{$ref}]` or a bare `$ref`. */
function refName(schema: Json): string | undefined {
  const ref = schema.$ref ?? (schema.allOf?.length === 1 ? schema.allOf[0].$ref : undefined);
  return ref?.replace('#/components/schemas/', '');
}

describe('OpenApiV3 documents', () => {
  const api = new OpenApiV3(RESOURCES);

  test('the index names every served group version by a hashed URL of that document', () => {
    const index = JSON.parse(api.indexJson());
    assert.deepEqual(Object.keys(index.paths).sort(), ['api/v1', 'apis/apps/v1', 'apis/coordination.k8s.io/v1']);
    for (const [key, entry] of Object.entries<Json>(index.paths)) {
      const m = /^\/openapi\/v3\/(.+)\?hash=([0-9A-F]{128})$/.exec(entry.serverRelativeURL);
      assert.ok(m, `bad serverRelativeURL ${entry.serverRelativeURL}`);
      assert.equal(m[1], key);
      const expected = createHash('sha512').update(api.documentJson(key)!).digest('hex').toUpperCase();
      assert.equal(m[2], expected, `hash of ${key} is not the SHA-512 of its bytes`);
    }
  });

  test('the hash changes exactly for the group version whose document changes', () => {
    const hashes = (a: OpenApiV3) => Object.fromEntries(Object.entries<Json>(JSON.parse(a.indexJson()).paths).map(([k, v]) => [k, v.serverRelativeURL]));
    const same = hashes(new OpenApiV3(RESOURCES));
    const grown = hashes(new OpenApiV3([...RESOURCES, replicasets]));
    assert.deepEqual(same, hashes(api), 'the same registry must give the same hashes');
    assert.notEqual(grown['apis/apps/v1'], same['apis/apps/v1']);
    assert.equal(grown['api/v1'], same['api/v1']);
  });

  test('documents are OpenAPI 3.0 with the Kubernetes info block', () => {
    const apps = doc(api, 'apis/apps/v1');
    assert.equal(apps.openapi, '3.0.0');
    assert.deepEqual(apps.info, { title: 'Kubernetes', version: 'v1.32.0' });
  });

  test('the deployment PATCH operation advertises fieldValidation and the GVK, and no strategic merge patch', () => {
    const patch = doc(api, 'apis/apps/v1').paths[DEPLOYMENT_ITEM].patch;
    assert.ok(patch, 'no PATCH operation on the deployment item path');
    assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' });
    assert.equal(patch['x-kubernetes-action'], 'patch');
    const queryParams = patch.parameters.filter((p: Json) => p.in === 'query').map((p: Json) => p.name);
    for (const name of ['dryRun', 'fieldManager', 'fieldValidation', 'force']) assert.ok(queryParams.includes(name), `PATCH lacks query parameter ${name}`);
    assert.deepEqual(Object.keys(patch.requestBody.content).sort(), [
      'application/apply-patch+yaml',
      'application/json-patch+json',
      'application/merge-patch+json',
    ]);
  });

  test('every PATCH operation in every document carries fieldValidation (kubectl stops at the first one for a GVK)', () => {
    for (const key of api.groupVersions) {
      let patches = 0;
      for (const [path, method, op] of operations(doc(api, key))) {
        if (method !== 'patch') continue;
        patches++;
        assert.ok(op.parameters.some((p: Json) => p.name === 'fieldValidation' && p.in === 'query'), `${path} PATCH lacks fieldValidation`);
        assert.ok(!(SMP in op.requestBody.content), `${path} PATCH advertises ${SMP}`);
        assert.equal(typeof op['x-kubernetes-group-version-kind'], 'object');
        assert.ok(!Array.isArray(op['x-kubernetes-group-version-kind']), 'operation GVK must be a single object');
      }
      if (key !== 'apis/coordination.k8s.io/v1') assert.ok(patches > 0, `${key} has no PATCH operation`);
    }
  });

  test('operations follow the served verbs, scope and subresources', () => {
    const apps = doc(api, 'apis/apps/v1').paths;
    assert.deepEqual(Object.keys(apps).sort(), [
      '/apis/apps/v1/deployments',
      '/apis/apps/v1/namespaces/{namespace}/deployments',
      DEPLOYMENT_ITEM,
      `${DEPLOYMENT_ITEM}/scale`,
      `${DEPLOYMENT_ITEM}/status`,
    ]);
    assert.deepEqual(Object.keys(apps['/apis/apps/v1/namespaces/{namespace}/deployments']).sort(), ['delete', 'get', 'parameters', 'post']);
    assert.equal(apps['/apis/apps/v1/namespaces/{namespace}/deployments'].delete['x-kubernetes-action'], 'deletecollection');
    assert.equal(apps['/apis/apps/v1/deployments'].get.operationId, 'listAppsV1DeploymentForAllNamespaces');
    assert.deepEqual(Object.keys(apps[DEPLOYMENT_ITEM]).sort(), ['delete', 'get', 'parameters', 'patch', 'put']);
    assert.deepEqual(apps[`${DEPLOYMENT_ITEM}/scale`].patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', kind: 'Scale', version: 'v1' });
    assert.deepEqual(apps[`${DEPLOYMENT_ITEM}/status`].put['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' });

    const core = doc(api, 'api/v1').paths;
    assert.equal(core['/api/v1/namespaces/{namespace}/pods/{name}/binding'].post['x-kubernetes-group-version-kind'].kind, 'Binding');
    assert.equal(core['/api/v1/namespaces/{name}/finalize'].put['x-kubernetes-action'], 'put');
    assert.deepEqual(core['/api/v1/namespaces/{name}'].parameters.map((p: Json) => p.name), ['name'], 'cluster-scoped items have no namespace parameter');
    assert.ok(!('/api/v1/namespaces/{namespace}/namespaces' in core));

    const leasePaths = doc(api, 'apis/coordination.k8s.io/v1').paths;
    const methods = [...operations({ paths: leasePaths })].map(([path, method]) => `${method} ${path}`).sort();
    assert.deepEqual(methods, [
      'get /apis/coordination.k8s.io/v1/leases',
      'get /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases',
      'get /apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}',
    ]);
  });

  test('the Deployment schema carries its GVK array and links spec to DeploymentSpec', () => {
    const schemas = doc(api, 'apis/apps/v1').components.schemas;
    const deployment = schemas['io.k8s.api.apps.v1.Deployment'];
    assert.deepEqual(deployment['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    assert.equal(deployment.type, 'object');
    assert.deepEqual(deployment.properties.spec.allOf, [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }]);
    assert.ok(deployment.properties.spec.description);
    const spec = schemas['io.k8s.api.apps.v1.DeploymentSpec'];
    assert.deepEqual(spec.properties.replicas, { type: 'integer', format: 'int32', description: 'Number of desired pods.' });
    assert.deepEqual([...spec.required].sort(), ['selector', 'template']);
    assert.equal(spec.properties.strategy['x-kubernetes-patch-strategy'], 'retainKeys');
    assert.equal(spec.properties.selector['x-kubernetes-map-type'], 'atomic');
    assert.deepEqual(schemas['io.k8s.api.apps.v1.DeploymentList']['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'DeploymentList', version: 'v1' }]);
    assert.deepEqual(schemas['io.k8s.api.autoscaling.v1.Scale']['x-kubernetes-group-version-kind'], [{ group: 'autoscaling', kind: 'Scale', version: 'v1' }]);
  });

  test('list and merge extensions come from the schema table', () => {
    for (const key of ['api/v1', 'apis/apps/v1']) {
      const container = doc(api, key).components.schemas['io.k8s.api.core.v1.Container'];
      const ports = container.properties.ports;
      assert.equal(ports['x-kubernetes-patch-merge-key'], 'containerPort', key);
      assert.equal(ports['x-kubernetes-patch-strategy'], 'merge');
      assert.equal(ports['x-kubernetes-list-type'], 'map');
      assert.deepEqual(ports['x-kubernetes-list-map-keys'], ['containerPort', 'protocol']);
      assert.equal(ports.type, 'array');
      assert.deepEqual(ports.items, { $ref: '#/components/schemas/io.k8s.api.core.v1.ContainerPort' });
      assert.deepEqual(container.required, ['name']);
    }
  });

  test('scalars get their OpenAPI types and named schemas', () => {
    const core = doc(api, 'api/v1').components.schemas;
    const meta = core['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties;
    assert.equal(refName(meta.creationTimestamp), 'io.k8s.apimachinery.pkg.apis.meta.v1.Time');
    assert.equal(core['io.k8s.apimachinery.pkg.apis.meta.v1.Time'].format, 'date-time');
    assert.equal(core['io.k8s.apimachinery.pkg.apis.meta.v1.Time'].type, 'string');
    assert.deepEqual(meta.labels.additionalProperties, { type: 'string' });
    assert.deepEqual(meta.generation, { type: 'integer', format: 'int64', description: meta.generation.description });
    assert.deepEqual(core['io.k8s.api.core.v1.ConfigMap'].properties.binaryData.additionalProperties, { type: 'string', format: 'byte' });

    const limits = core['io.k8s.api.core.v1.ResourceRequirements'].properties.limits;
    assert.deepEqual(limits.additionalProperties, { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity' });
    assert.deepEqual(core['io.k8s.apimachinery.pkg.api.resource.Quantity'].oneOf, [{ type: 'string' }, { type: 'number' }]);

    const port = core['io.k8s.api.core.v1.HTTPGetAction'].properties.port;
    assert.equal(refName(port), 'io.k8s.apimachinery.pkg.util.intstr.IntOrString');
    assert.equal(core['io.k8s.apimachinery.pkg.util.intstr.IntOrString']['x-kubernetes-int-or-string'], true);
    assert.equal(core['io.k8s.api.core.v1.ContainerPort'].properties.containerPort.format, 'int32');
  });

  test('every $ref resolves inside the same document', () => {
    for (const key of api.groupVersions) {
      const d = doc(api, key);
      let count = 0;
      for (const ref of refs(d)) {
        count++;
        assert.ok(ref.startsWith('#/components/schemas/'), `${key}: unexpected ref ${ref}`);
        assert.ok(ref.slice('#/components/schemas/'.length) in d.components.schemas, `${key}: dangling ${ref}`);
      }
      assert.ok(count > 0);
    }
  });

  test('advertiseStrategicMerge adds the strategic merge patch content type', () => {
    const smp = new OpenApiV3(RESOURCES, { advertiseStrategicMerge: true });
    const content = doc(smp, 'apis/apps/v1').paths[DEPLOYMENT_ITEM].patch.requestBody.content;
    assert.ok(SMP in content);
  });

  test('a kind the schema table does not know still gets a PATCH operation and a resolvable schema', () => {
    const widgets = def({ group: 'example.com', version: 'v1', kind: 'Widget', plural: 'widgets', schemaName: 'com.example.v1.Widget' });
    const d = doc(new OpenApiV3([widgets]), 'apis/example.com/v1');
    const patch = d.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'].patch;
    assert.ok(patch.parameters.some((p: Json) => p.name === 'fieldValidation'));
    assert.deepEqual(d.components.schemas['com.example.v1.Widget']['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'Widget', version: 'v1' }]);
    assert.deepEqual(d.components.schemas['com.example.v1.WidgetList'].properties.items.items, { $ref: '#/components/schemas/com.example.v1.Widget' });
    for (const ref of refs(d)) assert.ok(ref.slice('#/components/schemas/'.length) in d.components.schemas, `dangling ${ref}`);
  });

  test('the real registry renders documents whose refs all resolve', () => {
    const real = new OpenApiV3(resources);
    const index = JSON.parse(real.indexJson());
    assert.ok('api/v1' in index.paths && 'apis/apps/v1' in index.paths);
    for (const key of real.groupVersions) {
      const d = doc(real, key);
      for (const ref of refs(d)) assert.ok(ref.slice('#/components/schemas/'.length) in d.components.schemas, `${key}: dangling ${ref}`);
      for (const [path, method, op] of operations(d)) {
        if (method === 'patch') assert.ok(op.parameters.some((p: Json) => p.name === 'fieldValidation'), `${path}`);
      }
    }
  });
});

describe('OpenApiV3.serveOpenApi over HTTP', () => {
  const api = new OpenApiV3(RESOURCES);
  let server: Server;
  let base: string;
  before(async () => {
    const serve = api.serveOpenApi; // handed over unbound, as the HTTP handler's extensions hold it
    server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!serve(url.pathname, url.searchParams, res)) {
        res.writeHead(418);
        res.end('not served');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('the hashed URL from the index serves the document as immutable JSON with an ETag', async () => {
    const index = (await (await fetch(`${base}/openapi/v3`)).json()) as Json;
    const url = index.paths['apis/apps/v1'].serverRelativeURL as string;
    const res = await fetch(`${base}${url}&timeout=32s`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'public, immutable');
    const hash = new URL(url, base).searchParams.get('hash');
    assert.equal(res.headers.get('etag'), `"${hash}"`);
    assert.equal(await res.text(), api.documentJson('apis/apps/v1'));
  });

  test('an unhashed or stale URL serves the current document without immutable caching', async () => {
    for (const suffix of ['', '?hash=0123ABCD']) {
      const res = await fetch(`${base}/openapi/v3/api/v1${suffix}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), null);
      assert.equal(await res.text(), api.documentJson('api/v1'));
    }
  });

  test('an unknown group version is a 404 Status; other paths than /openapi/v3 and /openapi/v2 are not handled', async () => {
    const res = await fetch(`${base}/openapi/v3/apis/nope.example.com/v1`);
    assert.equal(res.status, 404);
    const status = (await res.json()) as Json;
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'NotFound');
    assert.equal(status.code, 404);
    assert.equal((await fetch(`${base}/openapi/v1`)).status, 418);
  });
});

// --- the real kubectl against a throwaway HTTPS server serving these documents ---

const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const KUBECTL_132 = process.env.KUBECTL ?? join(KUBECTL_DIR, 'kubectl.1.32');
const KUBECTL_130 = join(KUBECTL_DIR, 'kubectl.1.30');
const kubectlMissing = existsSync(KUBECTL_132) ? false : `kubectl not found at ${KUBECTL_132}`;
if (kubectlMissing && process.env.CI === 'true') throw new Error(`${kubectlMissing} (required when CI=true)`);

interface Recorded {
  method: string;
  url: string;
  contentType?: string;
  body: string;
}

/** Serves /version, legacy discovery, the OpenAPI documents and a tiny object store for configmaps and deployments. */
class FakeApiServer {
  readonly requests: Recorded[] = [];
  /** Objects by path (`/api/v1/namespaces/default/configmaps/x`). */
  readonly objects = new Map<string, Json>();

  /** Swappable so one server can present different documents (each kubectl run uses a fresh cache). */
  constructor(public openapi: OpenApiV3) {}

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', contentType: req.headers['content-type'], body });
      try {
        this.route(req, res, body);
      } catch (err) {
        json(res, 500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: String(err), code: 500 });
      }
    });
  };

  private route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname;
    if (req.headers.authorization !== 'Bearer test-token') return json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    if (this.openapi.serveOpenApi(path, url.searchParams, res)) return;
    if (path === '/version') return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    if (path === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (path === '/apis') {
      const apps = { groupVersion: 'apps/v1', version: 'v1' };
      return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [apps], preferredVersion: apps }] });
    }
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    if (path === '/api/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs, shortNames: ['cm'] },
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs, shortNames: ['po'] },
          { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs, shortNames: ['ns'] },
        ],
      });
    }
    if (path === '/apis/apps/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'apps/v1',
        resources: [{ name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs, shortNames: ['deploy'] }],
      });
    }
    const m = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/(configmaps|deployments)(?:\/([^/]+))?$/.exec(path);
    if (!m) return json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const [, , resource, name] = m;
    if (req.method === 'GET' && name) {
      const obj = this.objects.get(path);
      return obj ? json(res, 200, obj) : json(res, 404, status(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource }));
    }
    if (req.method === 'POST' && !name) {
      const obj = JSON.parse(body) as Json;
      this.objects.set(`${path}/${obj.metadata.name}`, obj);
      return json(res, 201, obj);
    }
    if (req.method === 'PATCH' && name && this.objects.has(path)) return json(res, 200, this.objects.get(path)!);
    return json(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }
}

function status(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

function json(res: ServerResponse, code: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('real kubectl against these documents', { skip: kubectlMissing }, () => {
  let dir: string;
  let kubeconfig: string;
  let fake: FakeApiServer;
  let server: ReturnType<typeof createHttpsServer>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-openapi-'));
    const pki = await ensurePki(dir, { nodeHostname: 'localhost' });
    fake = new FakeApiServer(new OpenApiV3(RESOURCES));
    server = createHttpsServer({ cert: pki.servingCertPem, key: pki.servingKeyPem }, fake.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: t',
        '  cluster:',
        `    server: https://127.0.0.1:${port}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: u',
        '  user:',
        '    token: test-token',
        'contexts:',
        '- name: c',
        '  context: {cluster: t, user: u, namespace: default}',
        'current-context: c',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: "1"\n');
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs kubectl asynchronously (the fake server lives in this process) with a fresh cache dir. */
  function kubectl(binary: string, ...args: string[]): Promise<KubectlResult> {
    const cacheDir = join(dir, `cache-${Math.random().toString(36).slice(2)}`);
    return new Promise((resolve, reject) => {
      execFile(binary, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
  }

  function since(mark: number): Recorded[] {
    return fake.requests.slice(mark);
  }

  for (const [binary, label] of [
    [KUBECTL_132, '1.32'],
    [KUBECTL_130, '1.30'],
  ] as const) {
    test(`kubectl ${label} apply and create -f send fieldValidation=Strict (server-side validation detected)`, { skip: !existsSync(binary) && `${binary} missing` }, async () => {
      for (const command of ['apply', 'create'] as const) {
        fake.objects.clear();
        const mark = fake.requests.length;
        const r = await kubectl(binary, command, '-f', join(dir, 'cm.yaml'));
        assert.equal(r.code, 0, `kubectl ${command} failed: ${r.stderr}`);
        assert.match(r.stdout, /configmap\/x created/);
        const reqs = since(mark);
        const post = reqs.find((q) => q.method === 'POST');
        assert.ok(post, `no POST among ${reqs.map((q) => `${q.method} ${q.url}`).join(', ')}`);
        const query = new URL(post.url, 'https://x').searchParams;
        assert.equal(query.get('fieldValidation'), 'Strict', `POST ${post.url}`);
        assert.ok(reqs.some((q) => q.url.startsWith('/openapi/v3/api/v1?hash=')), 'kubectl did not fetch the hashed core/v1 document');
        assert.ok(!reqs.some((q) => q.url.startsWith('/openapi/v2')), 'kubectl fell back to OpenAPI v2 (client-side validation)');
        assert.doesNotMatch(r.stderr, /warning|error/i);
      }
    });
  }

  /**
   * Applies a change touching every patch strategy (retainKeys, merge lists by key, atomic and primitive
   * lists, map key removal) to an existing deployment and returns kubectl's PATCH.
   */
  async function applyDeploymentChange(openapi: OpenApiV3): Promise<{ result: KubectlResult; patch: Recorded }> {
    const base = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', labels: { a: '1', b: '2' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            volumes: [{ name: 'v1', emptyDir: {} }, { name: 'v2', configMap: { name: 'c' } }],
            tolerations: [{ key: 'k', operator: 'Exists' }],
            containers: [
              {
                name: 'web',
                image: 'nginx:1.25',
                args: ['x', 'y'],
                ports: [{ containerPort: 80 }, { containerPort: 81 }],
                env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
                resources: { limits: { cpu: '1', memory: '1Gi' } },
                volumeMounts: [{ name: 'v1', mountPath: '/a' }],
              },
              { name: 'side', image: 'busybox' },
            ],
          },
        },
      },
    };
    const changed = structuredClone(base) as Json;
    changed.metadata.labels = { a: '1', c: '3' };
    changed.spec.strategy = { type: 'Recreate' };
    Object.assign(changed.spec.template.spec, {
      volumes: [{ name: 'v2', secret: { secretName: 's' } }],
      tolerations: [{ key: 'k2', operator: 'Exists' }],
      containers: [
        { name: 'side', image: 'busybox:2' },
        {
          name: 'web',
          image: 'nginx:1.26',
          args: ['y'],
          ports: [{ containerPort: 80 }, { containerPort: 82 }],
          env: [{ name: 'B', value: '3' }],
          resources: { limits: { cpu: '2' } },
          volumeMounts: [{ name: 'v2', mountPath: '/b' }],
        },
      ],
    });
    const live = structuredClone(base) as Json;
    live.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(base)}\n` };
    fake.objects.set('/apis/apps/v1/namespaces/default/deployments/web', live);
    await writeFile(join(dir, 'deploy.yaml'), JSON.stringify(changed));
    fake.openapi = openapi;
    const mark = fake.requests.length;
    try {
      const result = await kubectl(KUBECTL_132, 'apply', '-f', join(dir, 'deploy.yaml'));
      assert.equal(result.code, 0, result.stderr);
      const patch = since(mark).find((q) => q.method === 'PATCH');
      assert.ok(patch, 'no PATCH sent');
      return { result, patch };
    } finally {
      fake.openapi = new OpenApiV3(RESOURCES);
    }
  }

  test('kubectl apply on an existing deployment sends a strategic merge patch from its compiled-in types without warnings', async () => {
    const { result, patch } = await applyDeploymentChange(new OpenApiV3(RESOURCES));
    assert.equal(result.stderr, '', 'kubectl printed warnings');
    assert.equal(patch.contentType, SMP);
    assert.equal(new URL(patch.url, 'https://x').searchParams.get('fieldValidation'), 'Strict');
    const body = JSON.parse(patch.body) as Json;
    assert.deepEqual(body.spec.template.spec['$setElementOrder/containers'], [{ name: 'side' }, { name: 'web' }]);
    assert.deepEqual(body.spec.strategy, { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' });
  });

  test('with strategic merge advertised, kubectl computes the same patch from these schemas, silently', async () => {
    // Evidence for turning advertiseStrategicMerge on: a gap in the schemas would print
    // "warning: error calculating patch from openapi v3 spec" or change the patch (§3.2).
    const compiled = await applyDeploymentChange(new OpenApiV3(RESOURCES));
    const fromSchemas = await applyDeploymentChange(new OpenApiV3(RESOURCES, { advertiseStrategicMerge: true }));
    assert.equal(fromSchemas.result.stderr, '');
    assert.equal(fromSchemas.patch.contentType, SMP);
    assert.deepEqual(JSON.parse(fromSchemas.patch.body), JSON.parse(compiled.patch.body));
  });

  test('kubectl explain deployment.spec.replicas prints the description and <integer>', async () => {
    const r = await kubectl(KUBECTL_132, 'explain', 'deployment.spec.replicas');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FIELD:\s+replicas <integer>/);
    assert.match(r.stdout, /Number of desired pods\./);
  });

  test('kubectl explain pods.spec.containers lists Container fields with types and required markers', async () => {
    const r = await kubectl(KUBECTL_132, 'explain', 'pods.spec.containers');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FIELD:\s+containers <\[\]Container>/);
    assert.match(r.stdout, /A single application container that you want to run within a pod\./);
    assert.match(r.stdout, /\n\s+name\s+<string> -required-/);
    assert.match(r.stdout, /\n\s+ports\s+<\[\]ContainerPort>/);
    assert.match(r.stdout, /\n\s+resources\s+<ResourceRequirements>/);
  });
});
