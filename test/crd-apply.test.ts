/**
 * End-to-end: server-side apply of custom objects merged by their CRD's schema (x-kubernetes-list-type map / set /
 * atomic, the status subresource, a version whose schema differs), driven by the real kubectl 1.32 and by
 * @kubernetes/client-node against a real skiff API server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { JSONSchemaProps } from '../src/apiserver/crd/json-schema.js';
import { customResourceDefinition, mapList } from './helpers/crd.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip('32');

const PORT = { name: { type: 'string' }, port: { type: 'integer' } } satisfies Record<string, JSONSchemaProps>;
/** v1's spec.ports is a map list keyed by name; v1beta1's an atomic list of the same items. */
const schema = (ports: JSONSchemaProps): JSONSchemaProps => ({
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        size: { type: 'string' },
        ports,
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        args: { type: 'array', items: { type: 'string' } },
      },
    },
    status: {
      type: 'object',
      properties: {
        phase: { type: 'string' },
        conditions: mapList(['type'], { type: { type: 'string' }, status: { type: 'string' } }),
      },
    },
  },
});

const CRD = customResourceDefinition({
  group: 'ssa.example.com',
  kind: 'Gadget',
  versions: [
    { name: 'v1', subresources: { status: {} }, schema: schema(mapList(['name'], PORT)) },
    { name: 'v1beta1', subresources: { status: {} }, schema: schema({ type: 'array', items: { type: 'object', properties: PORT } }) },
  ],
});

const gadget = (name: string, spec: string, version = 'v1') => `apiVersion: ssa.example.com/${version}
kind: Gadget
metadata:
  name: ${name}
spec:
${spec}`;

interface Entry {
  manager: string;
  operation: string;
  apiVersion: string;
  subresource?: string;
  fieldsV1: Record<string, any>;
}

describe('server-side apply of custom objects by their schema (kubectl 1.32)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;
  let n = 0;
  const apply = async (manager: string, text: string, ...extra: string[]) => {
    const p = join(dir, `m${n++}.yaml`);
    await writeFile(p, text);
    return k(['apply', '--server-side', `--field-manager=${manager}`, '-f', p, ...extra]);
  };
  const ok = async (manager: string, text: string, ...extra: string[]) => {
    const r = await apply(manager, text, ...extra);
    assert.equal(r.code, 0, `apply as ${manager}: ${r.stderr}`);
  };
  const get = async (name: string, version = 'v1') => k.json(['get', `gadgets.${version}.ssa.example.com`, name, '--show-managed-fields']);
  const entry = (obj: { metadata: { managedFields: Entry[] } }, manager: string) => obj.metadata.managedFields.find((m) => m.manager === manager);

  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    k = kubectlFor(s.kubeconfig, '32');
    dir = await mkdtemp(join(tmpdir(), 'skiff-crd-apply-'));
    const crd = join(dir, 'crd.yaml');
    await writeFile(crd, JSON.stringify(CRD));
    const r = await k(['apply', '-f', crd]);
    assert.equal(r.code, 0, r.stderr);
    const w = await k(['wait', '--for', 'condition=established', '--timeout=20s', 'crd/gadgets.ssa.example.com']);
    assert.equal(w.code, 0, w.stderr);
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('two appliers share a map list and a set, each owning its own items; dropped items go', async () => {
    await ok('a', gadget('g1', '  size: S\n  ports: [{name: a, port: 1}]\n  tags: [red]\n'));
    await ok('b', gadget('g1', '  ports: [{name: b, port: 2}]\n  tags: [blue]\n'));
    let g = await get('g1');
    assert.deepEqual(g.spec.ports, [{ name: 'a', port: 1 }, { name: 'b', port: 2 }]);
    assert.deepEqual(g.spec.tags, ['red', 'blue']);
    assert.deepEqual(entry(g, 'a')!.fieldsV1['f:spec'], { 'f:ports': { 'k:{"name":"a"}': { '.': {}, 'f:name': {}, 'f:port': {} } }, 'f:size': {}, 'f:tags': { 'v:"red"': {} } });
    assert.deepEqual(entry(g, 'b')!.fieldsV1['f:spec'], { 'f:ports': { 'k:{"name":"b"}': { '.': {}, 'f:name': {}, 'f:port': {} } }, 'f:tags': { 'v:"blue"': {} } });
    assert.equal(entry(g, 'b')!.operation, 'Apply');

    // a stops applying its port and tag: they are removed, b's stay.
    await ok('a', gadget('g1', '  size: S\n'));
    g = await get('g1');
    assert.deepEqual(g.spec.ports, [{ name: 'b', port: 2 }]);
    assert.deepEqual(g.spec.tags, ['blue']);
    assert.equal(g.spec.size, 'S');
  });

  it('conflicts name the item field as upstream does (409, FieldManagerConflict); --force-conflicts takes it', async () => {
    const r = await apply('a', gadget('g1', '  size: S\n  ports: [{name: b, port: 9}]\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "b": \.spec\.ports\[name="b"\]\.port/);
    const raw = await s.request('PATCH', '/apis/ssa.example.com/v1/namespaces/default/gadgets/g1?fieldManager=a', gadget('g1', '  ports: [{name: b, port: 9}]\n'), { 'Content-Type': 'application/apply-patch+yaml' });
    assert.equal(raw.status, 409, raw.text);
    assert.equal(raw.json.reason, 'Conflict');
    assert.deepEqual(raw.json.details.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "b"', field: '.spec.ports[name="b"].port' }]);

    await ok('a', gadget('g1', '  size: S\n  ports: [{name: b, port: 9}]\n'), '--force-conflicts');
    const g = await get('g1');
    assert.deepEqual(g.spec.ports, [{ name: 'b', port: 9 }]);
    // b keeps the item (and its key), not the port it lost.
    assert.deepEqual(entry(g, 'b')!.fieldsV1['f:spec']['f:ports'], { 'k:{"name":"b"}': { '.': {}, 'f:name': {} } });
    assert.deepEqual(entry(g, 'a')!.fieldsV1['f:spec']['f:ports'], { 'k:{"name":"b"}': { '.': {}, 'f:name': {}, 'f:port': {} } });
  });

  it('an atomic list is replaced whole and conflicts as one field', async () => {
    await ok('a', gadget('g2', '  args: ["1", "2"]\n'));
    const r = await apply('b', gadget('g2', '  args: ["3"]\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /conflict with "a": \.spec\.args/);
    await ok('b', gadget('g2', '  args: ["3"]\n'), '--force-conflicts');
    const g = await get('g2');
    assert.deepEqual(g.spec.args, ['3']);
    assert.deepEqual(entry(g, 'b')!.fieldsV1['f:spec'], { 'f:args': {} });
  });

  it('status subresource: two controllers apply their own conditions; a main apply leaves status alone', async () => {
    await ok('a', gadget('g3', '  size: M\n'));
    const status = (conds: string, phase = '') => `apiVersion: ssa.example.com/v1\nkind: Gadget\nmetadata:\n  name: g3\nstatus:\n${phase}  conditions: ${conds}\n`;
    await ok('ctl-a', status('[{type: Ready, status: "True"}]', '  phase: Running\n'), '--subresource=status');
    await ok('ctl-b', status('[{type: Synced, status: "False"}]'), '--subresource=status');
    let g = await get('g3');
    assert.deepEqual(g.status.conditions, [{ type: 'Ready', status: 'True' }, { type: 'Synced', status: 'False' }]);
    assert.equal(g.status.phase, 'Running');
    const ctl = entry(g, 'ctl-a');
    assert.ok(ctl, JSON.stringify(g.metadata.managedFields));
    assert.equal(ctl.subresource, 'status');
    assert.deepEqual(ctl.fieldsV1, { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {}, 'f:type': {} } }, 'f:phase': {} } });
    // ctl-b changing ctl-a's condition conflicts.
    const r = await apply('ctl-b', status('[{type: Ready, status: "False"}]'), '--subresource=status');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /conflict with "ctl-a" with subresource "status": \.status\.conditions\[type="Ready"\]\.status/);
    // ctl-a drops its condition: gone; ctl-b's stays.
    await ok('ctl-a', status('[]', '  phase: Running\n'), '--subresource=status');
    g = await get('g3');
    assert.deepEqual(g.status.conditions, [{ type: 'Synced', status: 'False' }]);
    // Status sent to the main resource is ignored (status is a subresource).
    await ok('a', `${gadget('g3', '  size: L\n')}status:\n  phase: Broken\n`);
    g = await get('g3');
    assert.equal(g.spec.size, 'L');
    assert.equal(g.status.phase, 'Running');
  });

  it('each version merges by its own schema: through v1beta1 the ports list is atomic', async () => {
    await ok('a', gadget('g4', '  ports: [{name: a, port: 1}]\n'));
    await ok('b', gadget('g4', '  ports: [{name: b, port: 2}]\n'));
    assert.deepEqual((await get('g4')).spec.ports, [{ name: 'a', port: 1 }, { name: 'b', port: 2 }]);
    await ok('c', gadget('g4', '  ports: [{name: c, port: 3}]\n', 'v1beta1'));
    const g = await get('g4', 'v1beta1');
    assert.deepEqual(g.spec.ports, [{ name: 'c', port: 3 }]);
    const c = entry(g, 'c')!;
    assert.equal(c.apiVersion, 'ssa.example.com/v1beta1');
    assert.deepEqual(c.fieldsV1['f:spec'], { 'f:ports': {} });
    // a and b owned items that are gone, as v1 sees the change: they own nothing now.
    assert.equal(entry(g, 'a'), undefined);
    assert.equal(entry(g, 'b'), undefined);
    // c owns the whole list (as v1beta1 sees it): a v1 applier changing one item conflicts on the list.
    const r = await apply('a', gadget('g4', '  ports: [{name: c, port: 9}]\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /conflict with "c": \.spec\.ports\n/);
  });

  it('a configuration the schema cannot key is refused in upstream words, and nothing is written', async () => {
    const r = await apply('a', gadget('g5', '  ports: [{port: 1}]\n'));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /failed to create typed patch object \(default\/g5; ssa\.example\.com\/v1, Kind=Gadget\): \.spec\.ports: element 0: associative list with keys has an element that omits key field "name" \(and doesn't have default value\)/,
    );
    const dup = await s.request('PATCH', '/apis/ssa.example.com/v1/namespaces/default/gadgets/g5?fieldManager=a', gadget('g5', '  tags: [x, x]\n'), { 'Content-Type': 'application/apply-patch+yaml' });
    assert.equal(dup.status, 500, dup.text);
    assert.match(dup.json.message, /\.spec\.tags: duplicate entries for key \[="x"\]$/);
    const missing = await k(['get', 'gadget', 'g5']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NotFound|not found/);
  });

  it("kubectl's client-side to server-side migration takes over map-list item fields of the last-applied annotation", async () => {
    const p = join(dir, 'csa.yaml');
    await writeFile(p, gadget('g7', '  ports: [{name: a, port: 1}]\n'));
    const csa = await k(['apply', '-f', p]);
    assert.equal(csa.code, 0, csa.stderr);
    // The same user moves to --server-side (manager kubectl) and changes the port: the conflict with
    // kubectl-client-side-apply over .spec.ports[name="a"].port lies in the annotation's fields, so it is taken.
    await writeFile(p, gadget('g7', '  ports: [{name: a, port: 2}]\n'));
    const ssa = await k(['apply', '--server-side', '-f', p]);
    assert.equal(ssa.code, 0, ssa.stderr);
    const g = await get('g7');
    assert.deepEqual(g.spec.ports, [{ name: 'a', port: 2 }]);
    assert.deepEqual(entry(g, 'kubectl')!.fieldsV1['f:spec'], { 'f:ports': { 'k:{"name":"a"}': { '.': {}, 'f:name': {}, 'f:port': {} } } });
    // A field the annotation does not list still conflicts.
    const patched = await k(['patch', 'gadget', 'g7', '--type=merge', '--field-manager=editor', '-p', '{"spec":{"size":"L"}}']);
    assert.equal(patched.code, 0, patched.stderr);
    await writeFile(p, gadget('g7', '  size: S\n  ports: [{name: a, port: 2}]\n'));
    const conflict = await k(['apply', '--server-side', '-f', p]);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /conflict with "editor" using ssa\.example\.com\/v1: \.spec\.size/);
  });

  it('@kubernetes/client-node: an operator applies status through patchNamespacedCustomObjectStatus', async () => {
    await ok('a', gadget('g6', '  size: S\n'));
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const opts = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
    const body = (status: string) => ({ apiVersion: 'ssa.example.com/v1', kind: 'Gadget', metadata: { name: 'g6' }, status: { conditions: [{ type: 'Ready', status }] } });
    const req = (manager: string, status: string, force = false) =>
      api.patchNamespacedCustomObjectStatus({ group: 'ssa.example.com', version: 'v1', namespace: 'default', plural: 'gadgets', name: 'g6', body: body(status), fieldManager: manager, force }, opts);
    const out = (await req('operator', 'True')) as { status: { conditions: unknown[] }; metadata: { managedFields: Entry[] } };
    assert.deepEqual(out.status.conditions, [{ type: 'Ready', status: 'True' }]);
    assert.equal(entry(out, 'operator')!.subresource, 'status');
    await assert.rejects(req('intruder', 'False'), (err: any) => err.code === 409);
    const forced = (await req('intruder', 'False', true)) as { status: { conditions: unknown[] } };
    assert.deepEqual(forced.status.conditions, [{ type: 'Ready', status: 'False' }]);
  });
});
