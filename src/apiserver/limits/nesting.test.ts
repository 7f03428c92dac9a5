import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { StatusError } from '../../api/status.js';
import { MAX_NESTING_DEPTH, checkNesting, jsonNestingDepth, yamlNestingDepth } from './nesting.js';
import { prng } from '../../../test/helpers/prng.js';

/** The collection depth of a decoded value: `{}` and `[]` are 1, a scalar 0. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}


const WORDS = ['a', 'name', 'x y', '[b]', "it's", '"q"', '{c}', '- d', '? e', 'f: g', '#h', '|', '>-', 'a\nb', '  lead', 'ü', '', '0', 'true', 'null'];

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth <= 0 || r < 0.25) {
    const s = rand();
    if (s < 0.6) return WORDS[Math.floor(rand() * WORDS.length)];
    if (s < 0.8) return Math.floor(rand() * 1000);
    return s < 0.9 ? null : rand() < 0.5;
  }
  const n = 1 + Math.floor(rand() * 3);
  if (r < 0.6) {
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) obj[WORDS[Math.floor(rand() * WORDS.length)] + i] = randomValue(rand, depth - 1);
    return obj;
  }
  return Array.from({ length: n }, () => randomValue(rand, depth - 1));
}

function refused(fn: () => void): StatusError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, `a StatusError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('jsonNestingDepth', () => {
  const cases: [string, number][] = [
    ['1', 0],
    ['{}', 1],
    ['{"a":[1,{"b":2}]}', 3],
    ['{"a":"[[[[{{{{"}', 1],
    ['{"a\\"[[[":"\\\\"}', 1],
    ['[[["]]]"]]]', 3],
    ['[[[[', 4],
    [']]]][', 1],
  ];
  for (const [text, want] of cases) {
    it(`${text} -> ${want}`, () => assert.equal(jsonNestingDepth(text), want));
  }

  it('equals the decoded depth of random documents', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const value = randomValue(rand, 12);
      const text = JSON.stringify(value, null, i % 2 ? 2 : undefined);
      assert.equal(jsonNestingDepth(text), depthOf(value), text);
    }
  });
});

describe('yamlNestingDepth', () => {
  const cases: [string, string, number, number][] = [
    ['a block map', 'a:\n  b:\n    c: 1\n', 3, 3],
    ['siblings close levels', 'a:\n  b: 1\nc:\n  d:\n    e: 1\n', 3, 3],
    ['compact sequences', '- - - x\n', 3, 4],
    ['a compact map in a sequence', 'items:\n- name: a\n  value: b\n- name: c\n', 3, 3],
    ['flow collections', 'a: [[{b: [1]}]]\n', 5, 5],
    ['brackets in quoted scalars', `a: "[[[{{"\nb: '[[['\nc: "x\\"[["\n`, 1, 1],
    ['brackets in a block plain scalar', 'a: b[0] {x}\n', 1, 1],
    ['a quote inside a flow plain scalar is not a quote', "a: [it's, [[x]]]\n", 4, 4],
    ['comments', '# [[[[\na: 1 # {{{{\n', 1, 1],
    ['block scalar content', 'a: |\n  [[[[\n        - - - -\n      {{{\nb: 1\n', 1, 1],
    ['a block scalar in a sequence', '- |-\n  [[[[\n- >\n   {{{{\n', 1, 2],
    ['unindented sequences', 'a:\n- b:\n  - c:\n    - d: 1\n  e: 2\nf: 3\n', 7, 7],
    ['multi-line quoted scalars', 'a: "x\n  [[[[\n  y"\nb: [1]\n', 2, 2],
    ['multi-line flow', 'a: [\n  [1,\n   [2]],\n  {b: c}\n]\n', 4, 4],
    ['a document marker', '---\na:\n  b: 1\n...\n', 2, 2],
    ['JSON is YAML (the root counted twice)', '{"a": {"b": ["c", {"d": "[["}]}}', 4, 5],
  ];
  for (const [name, text, actual, bound] of cases) {
    it(`${name}: ${bound}`, () => {
      assert.equal(depthOf(parseYaml(text)), actual, 'the test case decodes as intended');
      assert.equal(yamlNestingDepth(text), bound);
    });
  }

  it('is an upper bound of the decoded depth of random documents, and close to it', () => {
    const rand = prng(11);
    for (let i = 0; i < 150; i++) {
      const value = randomValue(rand, 14);
      const text = stringifyYaml(value, { indent: 1 + (i % 4), indentSeq: i % 3 !== 0, flowCollectionPadding: i % 2 === 0 });
      const actual = depthOf(parseYaml(text));
      const bound = yamlNestingDepth(text);
      assert.ok(bound >= actual, `bound ${bound} < depth ${actual} for:\n${text}`);
      assert.ok(bound <= 2 * actual + 2, `bound ${bound} far above depth ${actual} for:\n${text}`);
    }
  });

  it('a Deployment manifest is nowhere near the limit', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' }, annotations: { note: 'a: [b] {c} "d"' } },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ name: 'web', image: 'nginx', args: ['--x=[1]', "it's"], env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }],
            affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }] }] } } },
          },
        },
      },
    };
    const text = stringifyYaml(deployment);
    const actual = depthOf(deployment);
    assert.ok(yamlNestingDepth(text) >= actual && yamlNestingDepth(text) <= actual + 2, `${yamlNestingDepth(text)} vs ${actual}`);
    checkNesting('yaml', text);
    checkNesting('json', JSON.stringify(deployment));
  });
});

describe('checkNesting', () => {
  const deep = 20_000;
  const attacks: [string, 'json' | 'yaml', string][] = [
    ['JSON arrays', 'json', '['.repeat(deep) + ']'.repeat(deep)],
    ['JSON objects', 'json', '{"a":'.repeat(deep) + '1' + '}'.repeat(deep)],
    ['YAML flow sequences', 'yaml', '['.repeat(deep) + ']'.repeat(deep)],
    ['YAML flow maps', 'yaml', '{a: '.repeat(deep) + '1' + '}'.repeat(deep)],
    ['YAML compact sequences', 'yaml', '- '.repeat(deep) + 'x\n'],
    ['YAML block maps', 'yaml', Array.from({ length: 1500 }, (_, i) => ' '.repeat(i) + 'a:').join('\n') + '\n'],
    ['YAML sequences of maps', 'yaml', Array.from({ length: 1500 }, (_, i) => ' '.repeat(2 * i) + '- a:').join('\n') + '\n'],
    ['YAML flow behind a stray quote', 'yaml', "a: [it's, " + '['.repeat(deep) + ']'.repeat(deep) + "']\n"],
    ['YAML apply patch body', 'yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: ' + '['.repeat(deep) + ']'.repeat(deep) + '\n'],
  ];
  for (const [name, type, text] of attacks) {
    it(`refuses ${name} with 400 BadRequest`, () => {
      const err = refused(() => checkNesting(type, text));
      assert.equal(err.code, 400);
      assert.equal(err.reason, 'BadRequest');
      assert.match(err.message, type === 'json' ? /^invalid character '[[{]' exceeded max depth$/ : /^error converting YAML to JSON: yaml: line \d+: exceeded max depth of 1000$/);
    });
  }

  it('allows exactly the limit and refuses one more', () => {
    const at = (n: number) => '['.repeat(n) + ']'.repeat(n);
    checkNesting('json', at(MAX_NESTING_DEPTH));
    checkNesting('yaml', `a: ${at(MAX_NESTING_DEPTH - 1)}`);
    refused(() => checkNesting('json', at(MAX_NESTING_DEPTH + 1)));
    refused(() => checkNesting('yaml', at(MAX_NESTING_DEPTH + 1)));
    refused(() => checkNesting('json', at(11), 10));
  });

  it('puts the caller prefix before the message and names the line', () => {
    const err = refused(() => checkNesting('yaml', 'a: 1\nb:\n  c: ' + '['.repeat(1200), MAX_NESTING_DEPTH, 'error decoding YAML: '));
    assert.equal(err.message, 'error decoding YAML: error converting YAML to JSON: yaml: line 3: exceeded max depth of 1000');
  });

  it('refuses collections as map keys, which JSON cannot hold', () => {
    for (const text of ['? ? ? x\n', '? [a]\n: b\n', '- ? - a\n', '?\n  a: b\n', '[a]: b\n', '{[a]: b}\n', 'a: {? {b: c}: d}\n']) {
      const err = refused(() => checkNesting('yaml', text));
      assert.match(err.message, /invalid map key/, text);
    }
    for (const text of ['? a\n: b\n', '"[a]": b\n', 'a: [b]\n', '{"a": [1], "b": {"c": 2}}\n']) checkNesting('yaml', text);
  });
});
