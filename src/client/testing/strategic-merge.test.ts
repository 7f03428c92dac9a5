import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { strategicMergePatch } from './strategic-merge.js';

describe('strategicMergePatch (the FakeClient\'s)', () => {
  const pod = {
    metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x'] },
    spec: { containers: [{ name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }] }, { name: 'side', image: 'busybox' }] },
    status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'PodScheduled', status: 'True' }] },
  };
  const rows: [string, unknown, unknown][] = [
    ['containers merge by name; nested env merges by name too',
      { spec: { containers: [{ name: 'web', image: 'nginx:2', env: [{ name: 'B', value: '2' }] }] } },
      { containers: [{ name: 'web', image: 'nginx:2', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }, { name: 'side', image: 'busybox' }] }],
    ['a new container is appended',
      { spec: { containers: [{ name: 'extra', image: 'x' }] } },
      { containers: [...pod.spec.containers, { name: 'extra', image: 'x' }] }],
    ['$patch: delete removes the item with that key',
      { spec: { containers: [{ name: 'side', $patch: 'delete' }] } },
      { containers: [pod.spec.containers[0]] }],
  ];
  for (const [name, patch, wantSpec] of rows) {
    it(name, () => {
      const out = strategicMergePatch(pod, patch, '', 'v1', 'Pod') as typeof pod;
      assert.deepEqual(out.spec, wantSpec);
    });
  }

  it('conditions merge by type; labels merge and null deletes; finalizers (a merge set) are a union', () => {
    const out = strategicMergePatch(
      pod,
      { metadata: { labels: { a: null, c: '3' }, finalizers: ['y', 'x'] }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      '',
      'v1',
      'Pod',
    ) as typeof pod;
    assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
    assert.deepEqual(out.metadata.finalizers, ['x', 'y']);
    assert.deepEqual(out.status.conditions, [{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }]);
  });

  it('lists without a merge strategy, and kinds the schema does not know, are replaced (JSON merge patch)', () => {
    const dep = { spec: { template: { spec: { containers: [{ name: 'a' }] } }, selector: { matchExpressions: [{ key: 'k', operator: 'Exists' }] } } };
    const out = strategicMergePatch(dep, { spec: { selector: { matchExpressions: [{ key: 'j', operator: 'Exists' }] } } }, 'apps', 'v1', 'Deployment') as typeof dep;
    assert.deepEqual(out.spec.selector.matchExpressions, [{ key: 'j', operator: 'Exists' }]);
    const unknown = strategicMergePatch({ items: [{ name: 'a' }] }, { items: [{ name: 'b' }] }, 'example.com', 'v1', 'Widget');
    assert.deepEqual(unknown, { items: [{ name: 'b' }] });
  });

  it('leaves its inputs alone', () => {
    const before = structuredClone(pod);
    strategicMergePatch(pod, { spec: { containers: [{ name: 'web', image: 'z' }] } }, '', 'v1', 'Pod');
    assert.deepEqual(pod, before);
  });
});
