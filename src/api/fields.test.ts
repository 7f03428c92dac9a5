import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from './status.js';
import { checkFieldSelector, fieldSelectorMatches, fieldSelectorToString, parseFieldSelector, requiresExactMatch } from './fields.js';

const pod: Record<string, string> = { 'metadata.name': 'web-0', 'metadata.namespace': 'default', 'status.phase': 'Running', 'spec.nodeName': 'node-1', 'metadata.labels': 'a,b' };
const get = (f: string) => pod[f];

test('field selectors match as the API server filters lists', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['metadata.name=web-0', true],
    ['metadata.name==web-0', true],
    ['metadata.name!=web-0', false],
    ['status.phase!=Succeeded,status.phase!=Failed', true],
    ['spec.nodeName=node-1,status.phase=Running', true],
    ['spec.nodeName=node-2,status.phase=Running', false],
    ['spec.nodeName=', false],
    ['unknown=', true],
    ['metadata.labels=a\\,b', true],
  ];
  for (const [s, want] of cases) assert.equal(fieldSelectorMatches(parseFieldSelector(s), get), want, s);
});

test('escaping and syntax errors use upstream messages', () => {
  assert.equal(parseFieldSelector('a=x\\=y\\\\z').requirements[0]!.value, 'x=y\\z');
  const cases: [string, string][] = [
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: 61'],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ];
  for (const [s, msg] of cases) {
    assert.throws(() => parseFieldSelector(s), (e: unknown) => e instanceof StatusError && e.code === 400 && e.message === msg, s);
  }
});

test('unknown fields are refused with the wording of the kind', () => {
  const sel = parseFieldSelector('spec.foo=bar');
  const known = new Set(['metadata.name', 'metadata.namespace']);
  assert.throws(() => checkFieldSelector(sel, known, true), (e: unknown) => e instanceof StatusError && e.code === 400 && e.message === 'field label not supported: spec.foo');
  assert.throws(
    () => checkFieldSelector(sel, known, false),
    (e: unknown) => e instanceof StatusError && e.message === '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
  );
  assert.doesNotThrow(() => checkFieldSelector(parseFieldSelector('metadata.name=x'), known, false));
});

test('exact matches and string form', () => {
  const sel = parseFieldSelector('metadata.namespace=default,metadata.name=web');
  assert.equal(requiresExactMatch(sel, 'metadata.name'), 'web');
  assert.equal(requiresExactMatch(parseFieldSelector('metadata.name!=web'), 'metadata.name'), undefined);
  assert.equal(fieldSelectorToString(parseFieldSelector('a=x\\,y')), 'a=x\\,y');
});
