import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Payload } from './atomic-writer.js';
import { configMapPayload, downwardAPIPayload, extractFieldPath, extractResourceValue, formatMap, PayloadError, secretPayload } from './compute-payload.js';

const show = (p: Payload) => Object.fromEntries([...p].map(([k, v]) => [k, [v.data.toString('utf8'), v.mode.toString(8)]]));
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('configMap payloads: all keys, items with paths and modes, optional and missing keys', () => {
  const cm = { metadata: { name: 'cfg' }, data: { 'a.conf': 'A', b: 'B' }, binaryData: { bin: b64('\u0001\u0002') } };
  const cases: { name: string; items?: { key: string; path: string; mode?: number }[]; defaultMode?: number; optional?: boolean; want?: Record<string, [string, string]>; error?: string }[] = [
    { name: 'every key, default 0644', want: { 'a.conf': ['A', '644'], b: ['B', '644'], bin: ['\u0001\u0002', '644'] } },
    { name: 'defaultMode', defaultMode: 0o400, want: { 'a.conf': ['A', '400'], b: ['B', '400'], bin: ['\u0001\u0002', '400'] } },
    { name: 'items pick and rename', items: [{ key: 'b', path: 'dir/b.txt', mode: 0o600 }], want: { 'dir/b.txt': ['B', '600'] } },
    { name: 'a missing key fails', items: [{ key: 'nope', path: 'x' }], error: 'configmap references non-existent config key: nope' },
    { name: 'a missing key of an optional source is skipped', items: [{ key: 'nope', path: 'x' }, { key: 'b', path: 'b' }], optional: true, want: { b: ['B', '644'] } },
  ];
  for (const c of cases) {
    if (c.error) assert.throws(() => configMapPayload(cm, c.items, c.defaultMode, !!c.optional), (e: unknown) => e instanceof PayloadError && e.message === c.error, c.name);
    else assert.deepEqual(show(configMapPayload(cm, c.items, c.defaultMode, !!c.optional)), c.want, c.name);
  }
});

test('secret payloads decode base64; missing keys use the secret wording', () => {
  const secret = { metadata: { name: 's' }, data: { password: b64('hunter2'), user: b64('admin') } };
  assert.deepEqual(show(secretPayload(secret, undefined, undefined, false)), { password: ['hunter2', '644'], user: ['admin', '644'] });
  assert.deepEqual(show(secretPayload(secret, [{ key: 'password', path: 'pw', mode: 0o400 }], 0o440, false)), { pw: ['hunter2', '400'] });
  assert.throws(() => secretPayload(secret, [{ key: 'token', path: 't' }], undefined, false), /^PayloadError: references non-existent secret key: token$/);
});

const pod: Pod = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u-1', labels: { b: 'two', a: 'one "quoted"' }, annotations: { note: 'x' } },
  spec: {
    containers: [
      { name: 'app', image: 'i', resources: { limits: { cpu: '250m', memory: '64Mi' }, requests: { cpu: '100m', memory: '32Mi' } } },
      { name: 'side', image: 'i' },
    ],
  },
};

test('downwardAPI fieldRefs: labels and annotations as sorted key="value" lines, names, uid, single keys', () => {
  const cases: [string, string][] = [
    ['metadata.name', 'web-0'],
    ['metadata.namespace', 'shop'],
    ['metadata.uid', 'u-1'],
    ['metadata.labels', 'a="one \\"quoted\\""\nb="two"'],
    ['metadata.annotations', 'note="x"'],
    ["metadata.labels['b']", 'two'],
    ["metadata.annotations['missing']", ''],
  ];
  for (const [path, want] of cases) assert.equal(extractFieldPath(pod, path), want, path);
  assert.throws(() => extractFieldPath(pod, 'spec.nodeName'), /unsupported fieldPath: spec.nodeName/);
  assert.equal(formatMap({}), '');
});

test('downwardAPI resourceFieldRefs: divisors round up; unset limits fall back to node allocatable', () => {
  const alloc = { cpu: '4', memory: '8Gi' };
  const cases: [string, string, string | undefined, string][] = [
    ['app', 'limits.cpu', undefined, '1'], // 250m / 1 rounds up
    ['app', 'limits.cpu', '1m', '250'],
    ['app', 'requests.memory', '1Mi', '32'],
    ['app', 'limits.memory', undefined, String(64 * 1024 * 1024)],
    ['side', 'limits.cpu', '1m', '4000'],
    ['side', 'limits.memory', '1Gi', '8'],
    ['side', 'requests.cpu', undefined, '0'],
  ];
  for (const [containerName, resource, divisor, want] of cases) {
    assert.equal(extractResourceValue(pod, { containerName, resource, ...(divisor ? { divisor } : {}) }, alloc), want, `${containerName} ${resource} / ${divisor}`);
  }
  assert.throws(() => extractResourceValue(pod, { containerName: 'nope', resource: 'limits.cpu' }, alloc), /container nope not found/);
});

test('downwardAPI payload: paths cleaned, modes, every error reported', () => {
  const p = downwardAPIPayload(pod, [{ path: './labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'cpu', mode: 0o400, resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } }], undefined, {});
  assert.deepEqual(show(p), { labels: ['a="one \\"quoted\\""\nb="two"', '644'], cpu: ['250', '400'] });
  assert.throws(
    () => downwardAPIPayload(pod, [{ path: 'a', fieldRef: { fieldPath: 'status.podIP' } }, { path: 'b', resourceFieldRef: { containerName: 'x', resource: 'limits.cpu' } }], undefined, {}),
    /\[unsupported fieldPath: status.podIP, container x not found\]/,
  );
});
