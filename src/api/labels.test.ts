import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from './status.js';
import {
  formatLabelSelector,
  formatLabels,
  labelSelectorFromObject,
  labelSelectorFromSet,
  matches,
  parseLabelSelector,
  selectorToString,
  validateLabelSelector,
} from './labels.js';

const web = { app: 'web', tier: 'frontend', version: '3' };

test('selector strings match label sets as kubectl -l does', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['', web, true],
    ['app=web', web, true],
    ['app==web', web, true],
    ['app = web', web, true],
    ['app=db', web, false],
    ['app!=db', web, true],
    ['app!=web', web, false],
    ['missing!=x', web, true],
    ['app in (web,db)', web, true],
    ['app in (db)', web, false],
    ['app notin (db)', web, true],
    ['missing notin (db)', web, true],
    ['app', web, true],
    ['missing', web, false],
    ['!missing', web, true],
    ['!app', web, false],
    ['app=web,tier=frontend', web, true],
    ['app=web,tier=backend', web, false],
    ['  app in ( web , db ) , !missing ', web, true],
    ['version>2', web, true],
    ['version<3', web, false],
    ['empty=', { empty: '' }, true],
    ['x in (in)', { x: 'in' }, true],
    ['example.com/role=edge', { 'example.com/role': 'edge' }, true],
  ];
  for (const [s, labels, want] of cases) assert.equal(matches(parseLabelSelector(s), labels), want, s);
});

test('bad selectors are 400 BadRequest with the real server wording', () => {
  const cases: [string, string][] = [
    ['app=web,', "found '', expected: identifier after ','"],
    ['app in web', "unable to parse requirement: found 'web' expected: '('"],
    ['a:=b', 'unable to parse requirement: <nil>: Invalid value: "a:": name part must consist of alphanumeric characters'],
    ['app=-bad', 'unable to parse requirement: values[0][app]: Invalid value: "-bad": a valid label must be an empty string'],
    ['app=a=b', "found '=', expected: ',' or 'end of string'"],
    ['app x', "unable to parse requirement: found 'x', expected: in, notin, =, ==, !=, gt, lt"],
    [',app', "found ',', expected: !, identifier, or 'end of string'"],
  ];
  for (const [s, prefix] of cases) {
    assert.throws(
      () => parseLabelSelector(s),
      (e: unknown) => e instanceof StatusError && e.code === 400 && e.reason === 'BadRequest' && e.message.startsWith(prefix),
      s,
    );
  }
});

test('metav1 LabelSelector objects convert: nil selects nothing, {} everything', () => {
  assert.equal(matches(labelSelectorFromObject(undefined), web), false);
  assert.equal(matches(labelSelectorFromObject({}), web), true);
  const sel = labelSelectorFromObject({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['frontend', 'edge'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'version', operator: 'Exists' },
      { key: 'zone', operator: 'NotIn', values: ['b'] },
    ],
  });
  assert.equal(matches(sel, web), true);
  assert.equal(matches(sel, { ...web, canary: 'true' }), false);
  assert.equal(selectorToString(sel), 'app=web,!canary,tier in (edge,frontend),version,zone notin (b)');
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Near' }] }), /"Near" is not a valid label selector operator/);
});

test('string forms used by printers and Scale.status.selector', () => {
  assert.equal(selectorToString(labelSelectorFromObject({ matchLabels: { app: 'nginx' } })), 'app=nginx');
  assert.equal(selectorToString(parseLabelSelector('b=2,a in (y,x)')), 'a in (x,y),b=2');
  assert.equal(formatLabelSelector({}), '<none>');
  assert.equal(formatLabelSelector(undefined), '<none>');
  assert.equal(formatLabelSelector({ matchLabels: { app: 'web', tier: 'fe' } }), 'app=web,tier=fe');
  assert.equal(formatLabels({ z: '1', a: '2' }), 'a=2,z=1');
  assert.equal(formatLabels({}), '<none>');
  assert.equal(matches(labelSelectorFromSet({ app: 'web' }), web), true);
});

test('validateLabelSelector reports operator and value problems at their paths', () => {
  const errs = validateLabelSelector(
    { matchExpressions: [{ key: 'a', operator: 'In' }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'Gt', values: ['1'] }], matchLabels: { 'bad key!': 'v' } },
    'spec.selector',
  );
  assert.deepEqual(
    errs.map((e) => `${e.field}: ${e.detail.split(':')[0]}`),
    [
      'spec.selector.matchExpressions[0].values: Required value',
      'spec.selector.matchExpressions[1].values: Forbidden',
      'spec.selector.matchExpressions[2].operator: Unsupported value',
      'spec.selector.matchLabels: Invalid value',
    ],
  );
});
