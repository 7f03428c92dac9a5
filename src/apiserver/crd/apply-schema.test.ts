import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { isStatusError } from '../../api/status.js';
import { applyConflictError, recordUpdate, serverSideApply, type ApplyResult, type ManagedFieldsEntry } from '../apply/apply.js';
import { fieldSetOf, pathToString } from '../apply/fieldpath.js';
import { applyTypeOf } from './apply-schema.js';
import { customResourceDefinitions } from './custom-resource.js';
import type { JSONSchemaProps } from './json-schema.js';
import { customResourceDefinition, mapList } from '../../../test/helpers/crd.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:01:00Z');

const SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        size: { type: 'string' },
        ports: mapList(['name', 'protocol'], { name: { type: 'string' }, protocol: { type: 'string', default: 'TCP' }, port: { type: 'integer' } }, ['name']),
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        args: { type: 'array', items: { type: 'string' } },
        env: { type: 'object', additionalProperties: { type: 'string' } },
        selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { app: { type: 'string' }, tier: { type: 'string' } } },
        target: { 'x-kubernetes-int-or-string': true },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'string' } } },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
    status: {
      type: 'object',
      properties: {
        phase: { type: 'string' },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } },
        },
      },
    },
  },
};
const TYPE = applyTypeOf(SCHEMA);

function widget(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' }, spec, ...(status ? { status } : {}) } as KubeObject;
}

function run(live: KubeObject | undefined, applied: KubeObject, manager: string, extra: { force?: boolean; subresource?: string; now?: Date } = {}): ApplyResult {
  return serverSideApply({ live, applied, manager, force: extra.force ?? false, typeName: 'com.example.v1.Widget', type: TYPE, now: extra.now ?? T0, subresource: extra.subresource, statusIsSubresource: true });
}

function apply(live: KubeObject | undefined, applied: KubeObject, manager: string, extra: { force?: boolean; subresource?: string } = {}): KubeObject {
  const r = run(live, applied, manager, extra);
  if (!r.object) throw new Error(`unexpected conflicts: ${applyConflictError(r.conflicts).message}`);
  return r.object;
}

function fieldsOf(obj: KubeObject, manager: string): Record<string, unknown> | undefined {
  return ((obj.metadata.managedFields ?? []) as ManagedFieldsEntry[]).find((m) => m.manager === manager)?.fieldsV1;
}

const spec = (obj: KubeObject) => obj.spec as Record<string, unknown>;

describe('applyTypeOf: the structural schema as apply types', () => {
  // Each case: a configuration's spec, and the fieldsV1 an applier of it owns below f:spec.
  const cases: { name: string; spec: Record<string, unknown>; owned: Record<string, unknown> }[] = [
    { name: 'map list by its keys, a key default filling in', spec: { ports: [{ name: 'a', port: 1 }] }, owned: { 'f:ports': { 'k:{"name":"a","protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } } } },
    { name: 'set list by value', spec: { tags: ['x', 'y'] }, owned: { 'f:tags': { 'v:"x"': {}, 'v:"y"': {} } } },
    { name: 'list without a list type: atomic', spec: { args: ['a', 'b'] }, owned: { 'f:args': {} } },
    { name: 'additionalProperties: a granular map', spec: { env: { A: '1' } }, owned: { 'f:env': { 'f:A': {} } } },
    { name: 'map-type atomic: one leaf', spec: { selector: { app: 'w' } }, owned: { 'f:selector': {} } },
    { name: 'int-or-string: a scalar', spec: { target: '50%' }, owned: { 'f:target': {} } },
    { name: 'preserve-unknown-fields: unknown keys deduced (objects granular, lists atomic)', spec: { extra: { known: 'k', other: { deep: [1, 2] } } }, owned: { 'f:extra': { 'f:known': {}, 'f:other': { '.': {}, 'f:deep': {} } } } },
    {
      name: 'embedded resource: metadata is ObjectMeta (labels granular)',
      spec: { template: { apiVersion: 'v1', kind: 'Pod', metadata: { labels: { app: 'w' } }, spec: { containers: [{ name: 'c' }] } } },
      owned: { 'f:template': { 'f:apiVersion': {}, 'f:kind': {}, 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { '.': {}, 'f:containers': {} } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const obj = apply(undefined, widget(c.spec), 'a');
      assert.deepEqual(fieldsOf(obj, 'a'), { 'f:spec': c.owned });
    });
  }

  it('each served version has its own type, built once and kept by its definition', () => {
    const crd = customResourceDefinition({
      group: 'example.com',
      kind: 'Widget',
      listKind: 'WidgetList',
      versions: [
        { name: 'v1', schema: SCHEMA },
        { name: 'v1beta1', schema: { type: 'object', properties: { spec: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } } } } } } },
      ],
    });
    const [v1, v1beta1] = customResourceDefinitions(crd, { terminating: () => false });
    const t1 = v1.customSchema?.applyType?.();
    assert.ok(t1);
    assert.equal(v1.customSchema?.applyType?.(), t1);
    const obj = (tags: string[]) => widget({ tags });
    // v1: tags is a set (merged); v1beta1: atomic (replaced).
    const viaV1 = serverSideApply({ live: apply(undefined, obj(['x']), 'a'), applied: obj(['y']), manager: 'b', force: false, typeName: v1.schemaName, type: t1, now: T1 });
    assert.deepEqual(spec(viaV1.object!).tags, ['x', 'y']);
    const viaBeta = serverSideApply({ live: apply(undefined, obj(['x']), 'a'), applied: obj(['y']), manager: 'b', force: true, typeName: v1beta1.schemaName, type: v1beta1.customSchema?.applyType?.(), now: T1 });
    assert.deepEqual(spec(viaBeta.object!).tags, ['y']);
  });
});

describe('server-side apply of custom objects by their schema', () => {
  it('two appliers share a map list, each owning its own keys; an item one stops applying goes', () => {
    let obj = apply(undefined, widget({ size: 'S', ports: [{ name: 'a', port: 1 }], tags: ['x'] }), 'a');
    obj = apply(obj, widget({ ports: [{ name: 'b', port: 2 }], tags: ['y'] }), 'b');
    assert.deepEqual(spec(obj).ports, [{ name: 'a', port: 1 }, { name: 'b', port: 2 }]);
    assert.deepEqual(spec(obj).tags, ['x', 'y']);
    assert.deepEqual(fieldsOf(obj, 'b'), { 'f:spec': { 'f:ports': { 'k:{"name":"b","protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } }, 'f:tags': { 'v:"y"': {} } } });
    // a drops its port and tag: they go, b's stay.
    obj = apply(obj, widget({ size: 'S' }), 'a');
    assert.deepEqual(spec(obj).ports, [{ name: 'b', port: 2 }]);
    assert.deepEqual(spec(obj).tags, ['y']);
    assert.equal(spec(obj).size, 'S');
  });

  it('a field another applier owns inside an item conflicts, named as upstream names it; force moves it', () => {
    let obj = apply(undefined, widget({ ports: [{ name: 'a', port: 1 }] }), 'a');
    obj = apply(obj, widget({ ports: [{ name: 'b', port: 2 }] }), 'b');
    const r = run(obj, widget({ ports: [{ name: 'b', port: 9 }] }), 'a');
    assert.ok(r.conflicts);
    assert.deepEqual(r.conflicts.map((c) => `${c.manager} ${pathToString(c.path)}`), ['b .spec.ports[name="b",protocol="TCP"].port']);
    const err = applyConflictError(r.conflicts);
    assert.equal(err.code, 409);
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "b": .spec.ports[name="b",protocol="TCP"].port');
    assert.deepEqual(err.status.details?.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "b"', field: '.spec.ports[name="b",protocol="TCP"].port' }]);
    // Same value: shared ownership, no conflict.
    const same = apply(obj, widget({ ports: [{ name: 'b', port: 2 }] }), 'c');
    assert.ok(fieldsOf(same, 'b') && fieldsOf(same, 'c'));
    obj = apply(obj, widget({ ports: [{ name: 'b', port: 9 }] }), 'a', { force: true });
    assert.deepEqual(spec(obj).ports, [{ name: 'b', port: 9 }]);
    // a dropped its own item a (pruned); b lost .port, keeps the item's key fields.
    assert.deepEqual(fieldsOf(obj, 'b'), { 'f:spec': { 'f:ports': { 'k:{"name":"b","protocol":"TCP"}': { '.': {}, 'f:name': {} } } } });
  });

  it('atomic lists and atomic maps are replaced whole; granular maps merged', () => {
    let obj = apply(undefined, widget({ args: ['1', '2'], selector: { app: 'w', tier: 't' }, env: { A: '1' } }), 'a');
    obj = apply(obj, widget({ args: ['3'], selector: { app: 'v' }, env: { B: '2' } }), 'b', { force: true });
    assert.deepEqual(spec(obj).args, ['3']);
    assert.deepEqual(spec(obj).selector, { app: 'v' });
    assert.deepEqual(spec(obj).env, { A: '1', B: '2' });
    // Without force the atomic list conflicts as a whole field.
    const r = run(obj, widget({ args: ['4'] }), 'a');
    assert.deepEqual(r.conflicts?.map((c) => pathToString(c.path)), ['.spec.args']);
  });

  it('status subresource: an applier owns status fields; conditions merge by type', () => {
    let obj = apply(undefined, widget({ size: 'S' }), 'a');
    obj = apply(obj, widget({}, { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] }), 'ctl', { subresource: 'status' });
    obj = apply(obj, widget({}, { conditions: [{ type: 'Synced', status: 'True' }] }), 'other', { subresource: 'status' });
    assert.deepEqual((obj.status as { conditions: unknown[] }).conditions, [{ type: 'Ready', status: 'True' }, { type: 'Synced', status: 'True' }]);
    const ctl = ((obj.metadata.managedFields ?? []) as ManagedFieldsEntry[]).find((m) => m.manager === 'ctl');
    assert.equal(ctl?.subresource, 'status');
    assert.deepEqual(ctl?.fieldsV1, { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {}, 'f:type': {} } }, 'f:phase': {} } });
    // Status in a main-resource apply is not owned.
    const main = apply(obj, widget({ size: 'M' }, { phase: 'X' }), 'a');
    assert.equal(JSON.stringify(fieldsOf(main, 'a')).includes('f:status'), false);
  });

  it('refuses a configuration it cannot type, in upstream words (500, no reason)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ports: [{ port: 1 }] }, '.spec.ports: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)'],
      [{ ports: [{ name: 'a' }, { name: 'a', protocol: 'TCP' }] }, '.spec.ports: duplicate entries for key [name="a",protocol="TCP"]'],
      [{ tags: ['x', 'x'] }, '.spec.tags: duplicate entries for key [="x"]'],
      [{ ports: ['a'] }, '.spec.ports: element 0: associative list with keys may not have non-map elements'],
    ];
    for (const [s, problem] of cases) {
      assert.throws(
        () => run(undefined, widget(s), 'a'),
        (err: unknown) => isStatusError(err) && err.code === 500 && err.reason === '' && err.message === `failed to create typed patch object (default/w; example.com/v1, Kind=Widget): ${problem}`,
        problem,
      );
    }
  });

  it('an Update manager of a custom object records maps that appear with ".", lists by key', () => {
    const live = apply(undefined, widget({ size: 'S' }), 'a');
    const next = structuredClone(live);
    spec(next).ports = [{ name: 'p', port: 1 }];
    spec(next).env = { A: '1' };
    recordUpdate({ live, next, manager: 'editor', typeName: 'com.example.v1.Widget', type: TYPE, now: T1 });
    assert.deepEqual(fieldsOf(next, 'editor'), {
      'f:spec': { 'f:env': { '.': {}, 'f:A': {} }, 'f:ports': { '.': {}, 'k:{"name":"p","protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {} } } },
    });
    // A create records spec itself too (upstream compares against an empty unstructured object).
    const created = widget({ size: 'S' });
    recordUpdate({ live: undefined, next: created, manager: 'creator', typeName: 'com.example.v1.Widget', type: TYPE, now: T0 });
    assert.deepEqual(fieldsOf(created, 'creator'), { 'f:spec': { '.': {}, 'f:size': {} } });
  });

  it('the same object under a version whose schema makes the list atomic is replaced whole', () => {
    const v1beta1 = applyTypeOf({ type: 'object', properties: { spec: { type: 'object', properties: { ports: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } } } } } } });
    let obj = apply(undefined, widget({ ports: [{ name: 'a', port: 1 }] }), 'a');
    const r = serverSideApply({ live: obj, applied: widget({ ports: [{ name: 'b', port: 2 }] }), manager: 'b', force: false, typeName: '', type: v1beta1, now: T1 });
    obj = r.object!;
    assert.deepEqual(spec(obj).ports, [{ name: 'b', port: 2 }]);
    assert.deepEqual(fieldsOf(obj, 'b'), { 'f:spec': { 'f:ports': {} } });
    assert.deepEqual(fieldSetOf({ spec: { ports: [{ name: 'x' }] } }, undefined, v1beta1).size, 1);
  });

  it('managers of another version are compared by that version\'s schema (typeOfVersion)', () => {
    const v1beta1 = applyTypeOf({ type: 'object', properties: { spec: { type: 'object', properties: { ports: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } } } } } } });
    const typeOfVersion = (v: string) => (v === 'example.com/v1beta1' ? v1beta1 : v === 'example.com/v1' ? TYPE : undefined);
    const beta = (ports: unknown[]) => ({ ...widget({ ports }), apiVersion: 'example.com/v1beta1' }) as KubeObject;
    const viaBeta = (live: KubeObject | undefined, ports: unknown[], manager: string, force = false) =>
      serverSideApply({ live, applied: beta(ports), manager, force, typeName: '', type: v1beta1, typeOfVersion, now: T1 });
    const viaV1 = (live: KubeObject, ports: unknown[], manager: string, force = false) =>
      serverSideApply({ live, applied: widget({ ports }), manager, force, typeName: '', type: TYPE, typeOfVersion, now: T1 });
    // old-client owns the whole list (atomic in v1beta1): a v1 applier changing one item conflicts on the list.
    let obj = viaBeta(undefined, [{ name: 'a', port: 1 }], 'old-client').object!;
    const r = viaV1(obj, [{ name: 'a', port: 2 }], 'new-client');
    assert.deepEqual(r.conflicts?.map((c) => `${c.manager} ${c.apiVersion} ${pathToString(c.path)}`), ['old-client example.com/v1beta1 .spec.ports']);
    // Without typeOfVersion the item change slips past the atomic owner (what skiff did before).
    const blind = serverSideApply({ live: obj, applied: widget({ ports: [{ name: 'a', port: 2 }] }), manager: 'new-client', force: false, typeName: '', type: TYPE, now: T1 });
    assert.equal(blind.conflicts, undefined);
    obj = viaV1(obj, [{ name: 'a', port: 2 }], 'new-client', true).object!;
    assert.equal(fieldsOf(obj, 'old-client'), undefined, 'forced: the atomic owner lost the list');
    // The reverse: a v1beta1 applier replacing the list removes, in v1 terms, the items v1 managers owned.
    obj = viaV1(obj, [{ name: 'b', port: 3 }], 'other-v1').object!;
    obj = viaBeta(obj, [{ name: 'c', port: 4 }], 'old-client', true).object!;
    assert.deepEqual(spec(obj).ports, [{ name: 'c', port: 4 }]);
    assert.equal(fieldsOf(obj, 'other-v1'), undefined, 'its item is gone, and its ownership with it');
    assert.equal(fieldsOf(obj, 'new-client'), undefined);
  });
});
