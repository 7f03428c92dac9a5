import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { applyConflictError, fieldManagerOf, recordUpdate, serverSideApply, type ApplyRequest, type ManagedFieldsEntry } from './apply.js';

const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';
const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-01T00:01:00Z');

function deploy(opts: { image?: string; replicas?: number; env?: { name: string; value: string }[]; labels?: Record<string, string>; args?: string[] } = {}): KubeObject {
  const container: Record<string, unknown> = { name: 'nginx', image: opts.image ?? 'nginx:1.25' };
  if (opts.env) container.env = opts.env;
  if (opts.args) container.args = opts.args;
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [container] } },
  };
  if (opts.replicas !== undefined) spec.replicas = opts.replicas;
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', ...(opts.labels ? { labels: opts.labels } : {}) }, spec } as KubeObject;
}

function apply(live: KubeObject | undefined, applied: KubeObject, extra: Partial<ApplyRequest> = {}): KubeObject {
  const r = serverSideApply({ live, applied, manager: 'kubectl', force: false, typeName: DEPLOYMENT, now: T0, ...extra });
  if (!r.object) throw new Error(`unexpected conflicts: ${applyConflictError(r.conflicts).message}`);
  return r.object;
}

function containers(obj: KubeObject): Record<string, unknown>[] {
  return (obj.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers;
}

function managers(obj: KubeObject): ManagedFieldsEntry[] {
  return (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
}

function managerNames(obj: KubeObject): string[] {
  return managers(obj).map((m) => `${m.manager}/${m.operation}`);
}

/** The object as another client writing it with a plain update would leave it. */
function update(live: KubeObject, change: (o: KubeObject) => void, manager: string, now = T1): KubeObject {
  const next = structuredClone(live);
  change(next);
  recordUpdate({ live, next, manager, typeName: DEPLOYMENT, now });
  return next;
}

describe('serverSideApply', () => {
  it('creates: the object is the configuration, owned by the applier', () => {
    const obj = apply(undefined, deploy({ replicas: 2 }));
    assert.equal(obj.spec && (obj.spec as { replicas: number }).replicas, 2);
    assert.deepEqual(managers(obj).map(({ fieldsV1: _f, ...rest }) => rest), [
      { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', time: '2025-01-01T00:00:00Z', fieldsType: 'FieldsV1' },
    ]);
    const fields = managers(obj)[0].fieldsV1 as Record<string, Record<string, unknown>>;
    // Identity fields are nobody's (stripmeta); spec fields are the applier's.
    assert.equal(fields['f:metadata'], undefined);
    assert.deepEqual(Object.keys(fields['f:spec']).sort(), ['f:replicas', 'f:selector', 'f:template']);
  });

  it('a changed configuration changes the object, with no conflict against itself', () => {
    const first = apply(undefined, deploy({ replicas: 2 }));
    const second = apply(first, deploy({ replicas: 2, image: 'nginx:1.27' }), { now: T1 });
    assert.equal(containers(second)[0].image, 'nginx:1.27');
    assert.deepEqual(managerNames(second), ['kubectl/Apply']);
    assert.equal(managers(second)[0].time, '2025-01-01T00:01:00Z');
  });

  it('a no-op apply keeps the object and the manager time', () => {
    const first = apply(undefined, deploy({ replicas: 2 }));
    const again = apply(first, deploy({ replicas: 2 }), { now: T1 });
    assert.deepEqual(again, first);
  });

  const removals: { name: string; before: KubeObject; after: KubeObject; check(o: KubeObject): void }[] = [
    {
      name: 'an env var the applier stopped applying is removed',
      before: deploy({ env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }),
      after: deploy({ env: [{ name: 'A', value: '1' }] }),
      check: (o) => assert.deepEqual(containers(o)[0].env, [{ name: 'A', value: '1' }]),
    },
    {
      name: 'the last env var removed takes the empty list with it',
      before: deploy({ env: [{ name: 'A', value: '1' }] }),
      after: deploy(),
      check: (o) => assert.equal(containers(o)[0].env, undefined),
    },
    {
      name: 'a label the applier stopped applying is removed',
      before: deploy({ labels: { a: '1', b: '2' } }),
      after: deploy({ labels: { a: '1' } }),
      check: (o) => assert.deepEqual(o.metadata.labels, { a: '1' }),
    },
    {
      name: 'a scalar the applier stopped applying is removed',
      before: deploy({ replicas: 3 }),
      after: deploy(),
      check: (o) => assert.equal((o.spec as { replicas?: number }).replicas, undefined),
    },
  ];
  for (const c of removals) {
    it(c.name, () => {
      const first = apply(undefined, c.before);
      c.check(apply(first, c.after, { now: T1 }));
    });
  }

  it('a field the applier stopped applying stays when another manager also owns it', () => {
    const first = apply(undefined, deploy({ labels: { team: 'a' } }));
    // Another applier sets the same value: shared ownership, no conflict.
    const shared = apply(first, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { team: 'a' } } } as KubeObject, { manager: 'other' });
    const dropped = apply(shared, deploy(), { now: T1 });
    assert.deepEqual(dropped.metadata.labels, { team: 'a' });
    assert.deepEqual(managerNames(dropped).sort(), ['kubectl/Apply', 'other/Apply']);
  });

  it('merges associative lists by key: a container another manager added stays, in place', () => {
    const first = apply(undefined, deploy());
    const withSidecar = update(first, (o) => containers(o).push({ name: 'sidecar', image: 'busybox' }), 'kubectl-edit');
    const next = apply(withSidecar, deploy({ image: 'nginx:1.27' }), { now: T1 });
    assert.deepEqual(containers(next).map((c) => [c.name, c.image]), [
      ['nginx', 'nginx:1.27'],
      ['sidecar', 'busybox'],
    ]);
  });

  it('replaces atomic lists whole', () => {
    const first = apply(undefined, deploy({ args: ['a', 'b'] }));
    assert.deepEqual(containers(apply(first, deploy({ args: ['c'] })))[0].args, ['c']);
  });

  it('conflicts on a field another manager set to a different value, and names it like upstream', () => {
    const first = apply(undefined, deploy({ replicas: 2 }));
    const scaled = update(first, (o) => ((o.spec as { replicas: number }).replicas = 5), 'kubectl-client-side-apply');
    const r = serverSideApply({ live: scaled, applied: deploy({ replicas: 3 }), manager: 'kubectl', force: false, typeName: DEPLOYMENT, now: T1 });
    assert.ok(r.conflicts);
    const err = applyConflictError(r.conflicts);
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
    assert.deepEqual(err.status.details?.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' }]);
  });

  it('applying the value another manager set is no conflict: both own it', () => {
    const first = apply(undefined, deploy({ replicas: 2 }));
    const scaled = update(first, (o) => ((o.spec as { replicas: number }).replicas = 5), 'kubectl-scale');
    const obj = apply(scaled, deploy({ replicas: 5 }), { now: T1 });
    const owners = managers(obj).filter((m) => (m.fieldsV1 as { 'f:spec'?: Record<string, unknown> })['f:spec']?.['f:replicas']);
    assert.deepEqual(owners.map((m) => m.manager).sort(), ['kubectl', 'kubectl-scale']);
  });

  it('force takes the field: the value changes and the other manager loses it', () => {
    const first = apply(undefined, deploy({ replicas: 2 }));
    const scaled = update(first, (o) => ((o.spec as { replicas: number }).replicas = 5), 'kubectl-scale');
    const forced = apply(scaled, deploy({ replicas: 3 }), { force: true, now: T1 });
    assert.equal((forced.spec as { replicas: number }).replicas, 3);
    // kubectl-scale owned nothing else, so its entry is gone.
    assert.deepEqual(managerNames(forced), ['kubectl/Apply']);
  });

  it('lists every conflict, grouped by manager', () => {
    const first = apply(undefined, deploy({ replicas: 2, labels: { a: '1' } }), { manager: 'one' });
    const r = serverSideApply({ live: first, applied: deploy({ replicas: 3, labels: { a: '2' } }), manager: 'two', force: false, typeName: DEPLOYMENT, now: T1 });
    assert.ok(r.conflicts);
    assert.equal(applyConflictError(r.conflicts).message, 'Apply failed with 2 conflicts: conflicts with "one":\n- .metadata.labels.a\n- .spec.replicas');
  });
});

describe('recordUpdate', () => {
  it('a create makes the writer an Update manager of every field it set', () => {
    const next = deploy({ replicas: 1 });
    recordUpdate({ live: undefined, next, manager: 'kubectl-create', typeName: DEPLOYMENT, now: T0 });
    const [entry] = managers(next);
    assert.equal(entry.manager, 'kubectl-create');
    assert.equal(entry.operation, 'Update');
    assert.equal(entry.apiVersion, 'apps/v1');
    const spec = (entry.fieldsV1 as Record<string, Record<string, unknown>>)['f:spec'];
    assert.ok(spec['f:replicas'] && spec['f:selector'] && spec['f:template']);
  });

  it('an update moves the changed fields to the writer and leaves the rest', () => {
    const created = deploy({ replicas: 1, labels: { a: '1' } });
    recordUpdate({ live: undefined, next: created, manager: 'kubectl-create', typeName: DEPLOYMENT, now: T0 });
    const edited = update(created, (o) => ((o.spec as { replicas: number }).replicas = 4), 'kubectl-edit');
    const byName = Object.fromEntries(managers(edited).map((m) => [m.manager, m.fieldsV1 as Record<string, Record<string, unknown>>]));
    assert.deepEqual(byName['kubectl-edit'], { 'f:spec': { 'f:replicas': {} } });
    assert.equal(byName['kubectl-create']['f:spec']['f:replicas'], undefined);
    assert.ok(byName['kubectl-create']['f:metadata']);
  });

  it('a write that changes nothing leaves managedFields as stored', () => {
    const created = deploy();
    recordUpdate({ live: undefined, next: created, manager: 'a', typeName: DEPLOYMENT, now: T0 });
    const same = update(created, () => {}, 'b');
    assert.deepEqual(same.metadata.managedFields, created.metadata.managedFields);
  });

  it('an empty managedFields list from the client clears them; a malformed one is 400', () => {
    const created = deploy();
    recordUpdate({ live: undefined, next: created, manager: 'a', typeName: DEPLOYMENT, now: T0 });
    const cleared = update(created, (o) => (o.metadata.managedFields = []), 'b');
    assert.equal(cleared.metadata.managedFields, undefined);
    assert.throws(
      () => update(created, (o) => (o.metadata.managedFields = [{ manager: 'x', operation: 'Bogus' }] as never), 'b'),
      (err: { code?: number }) => err.code === 400,
    );
  });

  it('a fieldsV1 nested thousands of levels is 400 naming the entry, not a stack overflow', () => {
    const created = deploy();
    recordUpdate({ live: undefined, next: created, manager: 'a', typeName: DEPLOYMENT, now: T0 });
    for (const depth of [1001, 50_000]) {
      let fieldsV1: Record<string, unknown> = {};
      for (let i = 0; i < depth; i++) fieldsV1 = { 'f:a': fieldsV1 };
      const entry = { manager: 'x', operation: 'Update', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1 };
      assert.throws(
        () => update(created, (o) => (o.metadata.managedFields = [entry] as never), 'b'),
        (err: { code?: number; message?: string }) =>
          err.code === 400 && err.message === 'metadata.managedFields: Invalid value: managedFields[0].fieldsV1 nests deeper than 1000 levels (at .a.a.a...)',
      );
    }
    let ok: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) ok = { 'f:a': ok };
    const kept = update(created, (o) => (o.metadata.managedFields = [{ manager: 'x', operation: 'Update', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: ok }] as never), 'b');
    assert.equal(kept.metadata.managedFields?.length, 1, 'a deep but allowed fieldsV1 is kept as sent');
  });
});

describe('fieldManagerOf', () => {
  const cases: [string | null, string | undefined, string][] = [
    ['kubectl', 'kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07', 'kubectl'],
    [null, 'kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07', 'kubectl'],
    [null, 'helm/v4.0.0', 'helm'],
    [null, undefined, ''],
  ];
  for (const [param, ua, want] of cases) it(`${param} / ${ua} -> ${JSON.stringify(want)}`, () => assert.equal(fieldManagerOf(param, ua), want));
});
