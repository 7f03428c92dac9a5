import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { PatchContentType, applyPatch, supportedPatchContentTypes } from './apply-patch.js';
import { applyJsonPatch } from './json-patch.js';
import { DEPLOYMENT, POD, fixturePatchSchema } from './patch-schema.fixture.js';

const JSON_PATCH = 'application/json-patch+json';
const MERGE_PATCH = 'application/merge-patch+json';
const STRATEGIC = 'application/strategic-merge-patch+json';

function deployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'nginx',
      namespace: 'default',
      labels: { app: 'nginx', tier: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"apps/v1"}\n' },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'nginx' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: {
          containers: [
            { name: 'nginx', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }] },
            { name: 'exporter', image: 'exporter:1' },
          ],
        },
      },
    },
  };
}

/** Runs `fn`, which must throw a StatusError; returns it for further checks. */
function statusErrorOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the patch to be refused');
}

describe('applyPatch', () => {
  describe('strategic merge patch with the generated schema table', () => {
    it('applies the patch kubectl apply computes for an image and replicas change', () => {
      const lastApplied = '{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3}}\n';
      const patch = {
        metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } },
        spec: {
          replicas: 3,
          template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'exporter' }], containers: [{ image: 'nginx:1.26', name: 'nginx' }] } },
        },
      };
      const got = applyPatch(STRATEGIC, deployment(), patch, DEPLOYMENT) as any;
      const want = deployment() as any;
      want.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = lastApplied;
      want.spec.replicas = 3;
      want.spec.template.spec.containers[0].image = 'nginx:1.26';
      assert.deepStrictEqual(got, want);
    });

    it('honours $retainKeys on Deployment.spec.strategy (switching to Recreate drops rollingUpdate)', () => {
      const patch = { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } };
      const got = applyPatch(STRATEGIC, deployment(), patch, DEPLOYMENT) as any;
      assert.deepStrictEqual(got.spec.strategy, { type: 'Recreate' });
    });

    it('merges containers by name in the real table (a patch without $setElementOrder keeps the rest)', () => {
      const got = applyPatch(STRATEGIC, deployment(), { spec: { template: { spec: { containers: [{ name: 'exporter', image: 'exporter:2' }] } } } }, DEPLOYMENT) as any;
      assert.deepStrictEqual(
        got.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`),
        ['nginx=nginx:1.25', 'exporter=exporter:2'],
      );
    });

    it('uses an injected schema when given one', () => {
      const pod: KubeObject = { metadata: { name: 'p', finalizers: ['a'] } };
      const got = applyPatch(STRATEGIC, pod, { metadata: { finalizers: ['b'] } }, POD, fixturePatchSchema);
      assert.deepStrictEqual(got.metadata.finalizers, ['b', 'a']);
    });

    for (const schemaName of [undefined, '']) {
      it(`is refused with 415 for a kind without a schema (custom resources, schema ${JSON.stringify(schemaName)})`, () => {
        const err = statusErrorOf(() => applyPatch(STRATEGIC, { metadata: { name: 'x' } }, { spec: {} }, schemaName));
        assert.equal(err.code, 415);
        assert.equal(err.reason, 'UnsupportedMediaType');
        assert.equal(err.message, 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json');
      });
    }

    it('refuses a body that is not a JSON object with 400 and says what it got', () => {
      const err = statusErrorOf(() => applyPatch(STRATEGIC, deployment(), [{ op: 'add' }], DEPLOYMENT));
      assert.equal(err.code, 400);
      assert.match(err.message, /^strategic merge patch must be a JSON object, got array: \[\{"op":"add"\}\]/);
    });
  });

  describe('JSON merge patch (RFC 7396)', () => {
    const cases: { name: string; patch: unknown; check: (got: any) => void }[] = [
      {
        name: 'kubectl label tier- (null deletes a label)',
        patch: { metadata: { labels: { tier: null } } },
        check: (got) => assert.deepStrictEqual(got.metadata.labels, { app: 'nginx' }),
      },
      {
        name: 'kubectl scale (a nested scalar replaced, siblings kept)',
        patch: { spec: { replicas: 4 } },
        check: (got) => {
          assert.equal(got.spec.replicas, 4);
          assert.deepStrictEqual(got.spec.template, deployment().spec && (deployment() as any).spec.template);
        },
      },
      {
        name: 'lists are replaced whole, even merge lists',
        patch: { spec: { template: { spec: { containers: [{ name: 'only', image: 'only:1' }] } } } },
        check: (got) => assert.deepStrictEqual(got.spec.template.spec.containers, [{ name: 'only', image: 'only:1' }]),
      },
      {
        name: 'an object added where there was none drops its nulls',
        patch: { spec: { paused: true, extra: { keep: 1, drop: null } } },
        check: (got) => {
          assert.equal(got.spec.paused, true);
          assert.deepStrictEqual(got.spec.extra, { keep: 1 });
        },
      },
      {
        name: '$-directives are ordinary keys (no strategic semantics)',
        patch: { metadata: { labels: { $patch: 'replace' } } },
        check: (got) => assert.deepStrictEqual(got.metadata.labels, { app: 'nginx', tier: 'web', $patch: 'replace' }),
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const original = deployment();
        const got = applyPatch(MERGE_PATCH, original, c.patch, undefined);
        c.check(got);
        assert.deepStrictEqual(original, deployment(), 'the original must not be modified');
      });
    }

    for (const [body, kind] of [[[{ op: 'replace' }], 'array'], [null, 'null'], ['x', 'string']] as const) {
      it(`refuses a ${kind} body with 400`, () => {
        const err = statusErrorOf(() => applyPatch(MERGE_PATCH, deployment(), body, DEPLOYMENT));
        assert.equal(err.code, 400);
        assert.equal(err.reason, 'BadRequest');
        assert.match(err.message, new RegExp(`^merge patch must be a JSON object, got ${kind}: `));
      });
    }

    it('stores a "__proto__" key as data instead of changing the prototype', () => {
      const body = JSON.parse('{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}');
      const got = applyPatch(MERGE_PATCH, deployment(), body, undefined) as any;
      assert.ok(Object.hasOwn(got.metadata.labels, '__proto__'));
      assert.equal(Object.getPrototypeOf(got.metadata.labels), Object.prototype);
    });
  });

  describe('JSON patch (RFC 6902)', () => {
    it('applies what kubectl rollout undo sends (replace template and annotations)', () => {
      const template = { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.24' }] } };
      const ops = [
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '3' } },
      ];
      const got = applyPatch(JSON_PATCH, deployment(), ops, DEPLOYMENT) as any;
      assert.deepStrictEqual(got.spec.template, template);
      assert.deepStrictEqual(got.metadata.annotations, { 'deployment.kubernetes.io/revision': '3' });
      assert.equal(got.spec.replicas, 1);
    });

    it('applies add, remove, move, copy and test in sequence', () => {
      const ops = [
        { op: 'test', path: '/spec/replicas', value: 1 },
        { op: 'add', path: '/metadata/labels/env', value: 'prod' },
        { op: 'remove', path: '/metadata/labels/tier' },
        { op: 'copy', from: '/metadata/labels/app', path: '/metadata/labels/name' },
        { op: 'move', from: '/spec/template/spec/containers/1', path: '/spec/template/spec/containers/0' },
        { op: 'add', path: '/metadata/finalizers', value: [] },
        { op: 'add', path: '/metadata/finalizers/-', value: 'example.com/x' },
      ];
      const got = applyPatch(JSON_PATCH, deployment(), ops, DEPLOYMENT) as any;
      assert.deepStrictEqual(got.metadata.labels, { app: 'nginx', env: 'prod', name: 'nginx' });
      assert.deepStrictEqual(got.spec.template.spec.containers.map((c: any) => c.name), ['exporter', 'nginx']);
      assert.deepStrictEqual(got.metadata.finalizers, ['example.com/x']);
    });

    const failing: { name: string; ops: unknown[]; detail: RegExp }[] = [
      { name: 'a failed test', ops: [{ op: 'test', path: '/spec/replicas', value: 5 }], detail: /operation 1 \("test" "\/spec\/replicas"\) does not apply: Test operation failed/ },
      { name: 'replace at a missing path', ops: [{ op: 'replace', path: '/spec/paused', value: true }], detail: /operation 1 \("replace" "\/spec\/paused"\) does not apply: Cannot perform the operation at a path that does not exist/ },
      { name: 'remove at a missing path', ops: [{ op: 'remove', path: '/metadata/labels/missing' }], detail: /operation 1 \("remove" "\/metadata\/labels\/missing"\)/ },
      { name: 'add under a missing parent', ops: [{ op: 'add', path: '/status/conditions/0', value: {} }], detail: /Cannot perform an `add` operation/ },
      { name: 'an unknown op', ops: [{ op: 'frobnicate', path: '/spec' }], detail: /not one of operations defined in RFC-6902/ },
      { name: 'a __proto__ path', ops: [{ op: 'add', path: '/__proto__/polluted', value: 1 }], detail: /banned/ },
      { name: 'a root replaced by a non-object', ops: [{ op: 'replace', path: '', value: [1] }], detail: /patched object must be a JSON object, got array/ },
    ];
    for (const c of failing) {
      it(`refuses ${c.name} with 422 and applies nothing`, () => {
        const original = deployment();
        const err = statusErrorOf(() => applyPatch(JSON_PATCH, original, [{ op: 'replace', path: '/spec/replicas', value: 9 }, ...c.ops], DEPLOYMENT));
        assert.equal(err.code, 422);
        assert.equal(err.reason, 'Invalid');
        assert.equal(err.message, 'the server rejected our request due to an error in our request');
        assert.match(err.status.details?.causes?.[0]?.message ?? '', c.detail);
        assert.deepStrictEqual(original, deployment());
        assert.equal(({} as any).polluted, undefined);
      });
    }

    it('refuses a body that is not a list of operation objects with 400', () => {
      assert.equal(statusErrorOf(() => applyPatch(JSON_PATCH, deployment(), { op: 'add' }, DEPLOYMENT)).code, 400);
      const err = statusErrorOf(() => applyPatch(JSON_PATCH, deployment(), ['add'], DEPLOYMENT));
      assert.equal(err.code, 400);
      assert.equal(err.message, 'json patch operation 0 must be an object, got string: "add"');
    });

    it('refuses more than 10000 operations with 413', () => {
      const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'Deployment' }));
      const err = statusErrorOf(() => applyPatch(JSON_PATCH, deployment(), ops, DEPLOYMENT));
      assert.equal(err.code, 413);
      assert.equal(err.message, 'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001');
    });

    it('refuses copies that add more than 3 MiB with 422, before building them (CVE-2019-1002100)', () => {
      // The adversarial patch: every copy doubles the object, 2.8 KB of patch asked for gigabytes.
      const doubling = Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/metadata/annotations', path: `/metadata/annotations/k${i}` }));
      const original = deployment();
      original.metadata.annotations = { seed: 'x'.repeat(1000) };
      const err = statusErrorOf(() => applyPatch(JSON_PATCH, original, doubling, DEPLOYMENT));
      assert.equal(err.code, 422);
      assert.equal(err.reason, 'Invalid');
      assert.match(err.status.details?.causes?.[0]?.message ?? '', /^Unable to complete the copy, the accumulated size increase of copy is \d+, exceeding the limit 3145728$/);
      assert.equal(original.metadata.annotations.k0, undefined, 'the original is untouched');
    });

    it('counts the copied bytes across the whole patch, not per operation', () => {
      const original = deployment();
      original.metadata.annotations = { seed: 'x'.repeat(998) }; // 1000 bytes as JSON
      const copies = (n: number) => Array.from({ length: n }, (_, i) => ({ op: 'copy', from: '/metadata/annotations/seed', path: `/metadata/annotations/c${i}` }));
      const patched = applyJsonPatch(original, copies(5), 5000) as KubeObject;
      assert.equal(patched.metadata.annotations?.c4, 'x'.repeat(998));
      const err = statusErrorOf(() => applyJsonPatch(original, copies(6), 5000));
      assert.equal(err.status.details?.causes?.[0]?.message, 'Unable to complete the copy, the accumulated size increase of copy is 6000, exceeding the limit 5000');
    });
  });

  describe('content types', () => {
    it('ignores parameters and case in the Content-Type', () => {
      const got = applyPatch('Application/Merge-Patch+JSON; charset=utf-8', deployment(), { spec: { replicas: 2 } }, DEPLOYMENT) as any;
      assert.equal(got.spec.replicas, 2);
    });

    it('refuses server-side apply with 415 for now, saying so', () => {
      const err = statusErrorOf(() => applyPatch(PatchContentType.applyYaml, deployment(), { spec: {} }, DEPLOYMENT));
      assert.equal(err.code, 415);
      assert.match(err.message, /accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/strategic-merge-patch\+json/);
      assert.match(err.message, /server-side apply.*not supported yet/);
    });

    it('refuses a non-patch Content-Type with 415', () => {
      const err = statusErrorOf(() => applyPatch('application/json', deployment(), { spec: {} }, DEPLOYMENT));
      assert.equal(err.code, 415);
      assert.equal(err.reason, 'UnsupportedMediaType');
    });

    it('lists strategic merge patch only for kinds with a schema', () => {
      assert.deepStrictEqual(supportedPatchContentTypes(true), [JSON_PATCH, MERGE_PATCH, STRATEGIC]);
      assert.deepStrictEqual(supportedPatchContentTypes(false), [JSON_PATCH, MERGE_PATCH]);
    });
  });

  describe('consumeOriginal', () => {
    it('a merge patch built on the caller\'s copy gives the same result and leaves the patch as it was', () => {
      const original = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { a: '1' } }, status: { phase: 'Pending', message: 'm' } } as KubeObject;
      const patch = { metadata: { labels: { b: '2' } }, status: { phase: 'Running', message: null, conditions: [{ type: 'Ready', status: 'True' }] } };
      const patchBefore = structuredClone(patch);
      const copied = applyPatch(MERGE_PATCH, structuredClone(original), patch, undefined);
      const mine = structuredClone(original);
      const consumed = applyPatch(MERGE_PATCH, mine, patch, undefined, undefined, { consumeOriginal: true });
      assert.deepStrictEqual(consumed, copied);
      assert.equal(consumed, mine, 'built on the given copy');
      assert.deepStrictEqual(patch, patchBefore);
      (consumed.status as { conditions: { status: string }[] }).conditions[0]!.status = 'False';
      assert.equal(patch.status.conditions[0]!.status, 'True', 'the result shares nothing with the patch');
    });
  });
});
