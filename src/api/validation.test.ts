import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TotalAnnotationSizeLimitB,
  deepEqual,
  generateNameFrom,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  nameIsDNSLabel,
  nameIsDNSSubdomain,
  nameIsPathSegment,
  validateAnnotations,
  validateImmutableField,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './validation.js';

test('DNS name checks accept and refuse as Kubernetes does', () => {
  const cases: [(s: string) => string[], string, boolean][] = [
    [isDNS1123Subdomain, 'example.com', true],
    [isDNS1123Subdomain, 'web-0', true],
    [isDNS1123Subdomain, 'Web', false],
    [isDNS1123Subdomain, '-web', false],
    [isDNS1123Subdomain, 'a'.repeat(253), true],
    [isDNS1123Subdomain, 'a'.repeat(254), false],
    [isDNS1123Label, 'kube-system', true],
    [isDNS1123Label, 'a.b', false],
    [isDNS1123Label, 'a'.repeat(64), false],
    [isDNS1035Label, 'web', true],
    [isDNS1035Label, '1web', false],
    [isConfigMapKey, 'app.properties', true],
    [isConfigMapKey, 'KEY_NAME', true],
    [isConfigMapKey, 'a/b', false],
    [isConfigMapKey, '..data', false],
    [isValidPortName, 'http', true],
    [isValidPortName, 'http--x', false],
    [isValidPortName, '8080', false],
    [isValidPortName, 'a-very-long-port-name', false],
  ];
  for (const [fn, v, ok] of cases) assert.equal(fn(v).length === 0, ok, `${fn.name}(${v})`);
});

test('messages are worded as upstream', () => {
  assert.deepEqual(isDNS1123Subdomain('Web'), [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
  assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.deepEqual(isDNS1123Label('A'), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
  assert.deepEqual(isQualifiedName('a/b/c').length, 1);
  assert.match(isQualifiedName('/x')[0]!, /^prefix part must be non-empty$/);
  assert.match(isQualifiedName(`${'a'.repeat(64)}`)[0]!, /^name part must be no more than 63 characters$/);
  assert.deepEqual(isValidLabelValue('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.deepEqual(nameIsPathSegment('a/b', false), ["may not contain '/'"]);
  assert.deepEqual(nameIsPathSegment('..', false), ["may not be '..'"]);
  assert.deepEqual(nameIsPathSegment('system:admin', false), []);
});

test('generateName prefixes may end in a dash and get five random characters', () => {
  assert.deepEqual(nameIsDNSSubdomain('web-', true), []);
  assert.notDeepEqual(nameIsDNSSubdomain('web-', false), []);
  assert.deepEqual(nameIsDNSLabel('ns-', true), []);
  let i = 0;
  const name = generateNameFrom('web-', () => (i++ % 27) / 27);
  assert.equal(name, 'web-bcdfg');
  assert.equal(generateNameFrom('x'.repeat(80), () => 0).length, 63);
  assert.match(generateNameFrom('job-'), /^job-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

test('ObjectMeta: name, namespace scope, labels and annotations', () => {
  const sub = { namespaced: true, nameValidator: nameIsDNSSubdomain };
  assert.deepEqual(validateObjectMeta({ name: 'web', namespace: 'default' }, sub), []);
  assert.deepEqual(
    validateObjectMeta({}, sub).map((e) => `${e.field}: ${e.detail}`),
    ['metadata.name: Required value: name or generateName is required', 'metadata.namespace: Required value'],
  );
  assert.deepEqual(
    validateObjectMeta({ name: 'n', namespace: 'default' }, { namespaced: false, nameValidator: nameIsDNSLabel }).map((e) => `${e.field}: ${e.detail}`),
    ['metadata.namespace: Forbidden: not allowed on this type'],
  );
  const bad = validateObjectMeta({ name: 'Web', namespace: 'default', labels: { 'bad key': 'v', ok: '-x' } }, sub);
  assert.deepEqual(bad.map((e) => e.field), ['metadata.name', 'metadata.labels', 'metadata.labels']);
  assert.match(bad[0]!.detail, /^Invalid value: "Web": a lowercase RFC 1123 subdomain/);
  assert.deepEqual(validateLabels({ app: 'web' }, 'metadata.labels'), []);
  const big = validateAnnotations({ a: 'x'.repeat(TotalAnnotationSizeLimitB) }, 'metadata.annotations');
  assert.deepEqual(big, [{ type: 'FieldValueTooLong', field: 'metadata.annotations', detail: 'Too long: may not be more than 262144 bytes' }]);
  assert.deepEqual(validateAnnotations({ 'Example.com/Key': 'any value at all' }, 'metadata.annotations'), []);
  assert.deepEqual(validateObjectMeta({ name: 'a', namespace: 'n', finalizers: ['kubernetes', 'example.com/cleanup'] }, sub), []);
  assert.deepEqual(
    validateObjectMeta({ name: 'a', namespace: 'n', finalizers: ['cleanup'] }, sub).map((e) => `${e.field}: ${e.detail}`),
    ['metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified'],
  );
});

test('updates keep identity fields and refuse new finalizers while deleting', () => {
  const old = { name: 'a', namespace: 'ns', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z', deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['x.io/a'] };
  const errs = validateObjectMetaUpdate({ ...old, name: 'b', finalizers: ['x.io/a', 'x.io/b'] }, old);
  assert.deepEqual(errs.map((e) => e.field), ['metadata.finalizers', 'metadata.name']);
  assert.equal(errs[1]!.detail, 'Invalid value: "b": field is immutable');
  assert.deepEqual(validateImmutableField({ a: 1, b: [1] }, { b: [1], a: 1 }, 'spec.selector'), []);
});

describe('deepEqual', () => {
  const cases: [unknown, unknown, boolean][] = [
    [{ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: 1 }, { a: 1, b: null }, false],
    [{ a: 1, b: 0 }, { a: 1 }, false],
    [{ a: [1, 2] }, { a: [1, 2, 3] }, false],
    [[], {}, false],
    [{ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, false],
    [null, null, true],
    [null, {}, false],
    ['1', 1, false],
  ];
  for (const [a, b, want] of cases) it(`${JSON.stringify(a)} vs ${JSON.stringify(b)} -> ${want}`, () => assert.equal(deepEqual(a, b), want));
});
