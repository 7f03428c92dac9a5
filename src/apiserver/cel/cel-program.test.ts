/** Table tests of the CEL environment: the Kubernetes libraries, compile errors, and the per-call cost limit. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COST_EXCEEDED, compileCel, isCompileError, type ExpectedType } from './cel-program.js';
import { toCel } from './values.js';

function run(expression: string, self: unknown = {}, expect: ExpectedType = 'any'): unknown {
  const p = compileCel(expression, ['self', 'oldSelf'], expect);
  if (isCompileError(p)) throw new Error(p.message);
  return p.evaluate({ self: toCel(self) });
}

const cases: { expr: string; want: unknown; self?: unknown }[] = [
  // macros and optionals
  { expr: 'self.items.all(i, i > 0)', self: { items: [1, 2, 3] }, want: true },
  { expr: 'self.items.exists(i, i > 2)', self: { items: [1, 2, 3] }, want: true },
  { expr: 'self.items.exists_one(i, i > 1)', self: { items: [1, 2, 3] }, want: false },
  { expr: 'self.items.map(i, i * 2)', self: { items: [1, 2] }, want: [2n, 4n] },
  { expr: 'self.items.filter(i, i % 2 == 1)', self: { items: [1, 2, 3] }, want: [1n, 3n] },
  { expr: 'has(self.a) && !has(self.b)', self: { a: 1 }, want: true },
  { expr: "self.?b.orValue('none')", self: { a: 1 }, want: 'none' },
  { expr: 'self.replicas + 1', self: { replicas: 2 }, want: 3n },
  { expr: 'self.ratio * 2.0', self: { ratio: 0.25 }, want: 0.5 },
  // strings
  { expr: "'Hello'.lowerAscii() + 'x'.upperAscii()", want: 'helloX' },
  { expr: "'a,b,c'.split(',')", want: ['a', 'b', 'c'] },
  { expr: "['a', 'b'].join('-')", want: 'a-b' },
  { expr: "'  x '.trim()", want: 'x' },
  { expr: "'hello'.indexOf('l')", want: 2n },
  { expr: "'hello'.lastIndexOf('l')", want: 3n },
  { expr: "'hello'.substring(1, 3)", want: 'el' },
  { expr: "'hello'.charAt(1)", want: 'e' },
  { expr: "'aaa'.replace('a', 'b')", want: 'bbb' },
  { expr: "'aaa'.replace('a', 'b', 2)", want: 'bba' },
  { expr: "'abc'.reverse()", want: 'cba' },
  { expr: "strings.quote('a\"b')", want: '"a\\"b"' },
  // sets
  { expr: 'sets.contains([1, 2, 3], [3, 1])', want: true },
  { expr: 'sets.contains([1, 2], [4])', want: false },
  { expr: 'sets.equivalent([1, 2, 2], [2, 1])', want: true },
  { expr: "sets.intersects(['a', 'b'], ['c', 'b'])", want: true },
  // lists
  { expr: '[1, 2, 3].isSorted()', want: true },
  { expr: "['b', 'a'].isSorted()", want: false },
  { expr: '[1, 2, 3].sum()', want: 6n },
  { expr: '[1.5, 2.5].sum()', want: 4 },
  { expr: '[3, 1, 2].min()', want: 1n },
  { expr: '[3, 1, 2].max()', want: 3n },
  { expr: '[1, 2, 1].indexOf(1)', want: 0n },
  { expr: '[1, 2, 1].lastIndexOf(1)', want: 2n },
  { expr: '[1, 2, 3, 4].slice(1, 3)', want: [2n, 3n] },
  { expr: '[[1], [2, 3]].flatten()', want: [1n, 2n, 3n] },
  // regex
  { expr: "'abc123'.matches('^[a-z]+[0-9]+$')", want: true },
  { expr: "'abc123def456'.find('[0-9]+')", want: '123' },
  { expr: "'abc123def456'.findAll('[0-9]+')", want: ['123', '456'] },
  { expr: "'a1b2c3'.findAll('[0-9]', 2)", want: ['1', '2'] },
  { expr: "'ABC'.find('(?i)b')", want: 'B' },
  // url
  { expr: "url('https://example.com:8080/a/b?x=1&x=2').getScheme()", want: 'https' },
  { expr: "url('https://example.com:8080/a/b?x=1&x=2').getHost()", want: 'example.com:8080' },
  { expr: "url('https://example.com:8080/a/b').getHostname()", want: 'example.com' },
  { expr: "url('https://example.com:8080/a/b').getPort()", want: '8080' },
  { expr: "url('https://example.com/a%20b').getEscapedPath()", want: '/a%20b' },
  { expr: "url('https://example.com/?x=1&x=2').getQuery()", want: { x: ['1', '2'] } },
  { expr: "isURL('https://example.com') && isURL('/path') && !isURL('example.com')", want: true },
  // quantity
  { expr: "quantity('1Gi').isGreaterThan(quantity('1000Mi'))", want: true },
  { expr: "quantity('500m').isLessThan(quantity('1'))", want: true },
  { expr: "quantity('2k').asInteger()", want: 2000n },
  { expr: "quantity('1.5').isInteger()", want: false },
  { expr: "quantity('1.5').asApproximateFloat()", want: 1.5 },
  { expr: "quantity('1').add(quantity('500m')).compareTo(quantity('1500m'))", want: 0n },
  { expr: "quantity('1').sub(1).sign()", want: 0n },
  { expr: "isQuantity('1Gi') && !isQuantity('1GG')", want: true },
  { expr: "quantity('1Gi') == quantity('1024Mi')", want: true },
  // ip and cidr
  { expr: "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))", want: true },
  { expr: "cidr('10.0.0.0/8').containsIP('11.0.0.1')", want: false },
  { expr: "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')", want: true },
  { expr: "ip('::1').isLoopback() && ip('127.0.0.1').family() == 4", want: true },
  { expr: "string(cidr('192.168.1.5/24').masked())", want: '192.168.1.0/24' },
  { expr: "isIP('1.2.3.4') && !isIP('1.2.3') && isCIDR('fd00::/8')", want: true },
  { expr: "ip('fe80::1').isLinkLocalUnicast()", want: true },
  { expr: "ip('10.0.0.1').isGlobalUnicast() && !ip('224.0.0.1').isGlobalUnicast()", want: true },
  { expr: "string(ip('2001:db8:0:0:0:0:0:1'))", want: '2001:db8::1' },
];

describe('CEL environment: Kubernetes libraries', () => {
  for (const c of cases) {
    test(c.expr, () => {
      assert.deepEqual(run(c.expr, c.self), c.want);
    });
  }
});

describe('CEL environment: errors', () => {
  const compileErrors: { expr: string; expect?: ExpectedType; want: RegExp }[] = [
    { expr: 'self.x >', want: /^compilation failed: ERROR: <input>:1:9: / },
    { expr: 'nope == 1', want: /compilation failed: ERROR: <input>:1:1: Unknown variable: nope/ },
    { expr: "self.x.matches('(?=a)')", want: /invalid or unsupported Perl syntax/ },
    { expr: "'a' + 1", want: /no such overload/ },
    { expr: '1 + 1', expect: 'bool', want: /must evaluate to a bool, got int/ },
    { expr: 'self.undefinedFn()', want: /found no matching overload|no matching overload/ },
  ];
  for (const c of compileErrors) {
    test(`compile error: ${c.expr}`, () => {
      const p = compileCel(c.expr, ['self', 'oldSelf'], c.expect ?? 'any');
      assert.ok(isCompileError(p), 'expected a compile error');
      assert.match(p.message, c.want);
    });
  }

  test('runtime errors in cel-go words', () => {
    assert.throws(() => run('self.a.b', { a: {} }), { message: 'no such key: b' });
    assert.throws(() => run('self.a / 0', { a: 1 }), /division by zero/);
    assert.throws(() => run("quantity('x')"), /quantities must match/);
    assert.throws(() => run('[].min()'), /min called on empty list/);
  });

  test('compiled once: the same program object comes back from the cache', () => {
    assert.equal(compileCel('self.a == 1', ['self', 'oldSelf'], 'bool'), compileCel('self.a == 1', ['self', 'oldSelf'], 'bool'));
  });

  test('transition rules are recognised by their use of oldSelf', () => {
    const p = compileCel('self.a == oldSelf.a', ['self', 'oldSelf'], 'bool');
    assert.ok(!isCompileError(p) && p.usesOldSelf);
    const q = compileCel("self.a == 'oldSelf'", ['self', 'oldSelf'], 'bool');
    assert.ok(!isCompileError(q) && !q.usesOldSelf);
  });
});

describe('CEL environment: cost limit', () => {
  test('a nested comprehension over a large list stops at the per-call limit, quickly', () => {
    const self = { items: Array.from({ length: 3000 }, (_, i) => i) };
    const started = performance.now();
    assert.throws(() => run('self.items.all(a, self.items.all(b, self.items.all(c, a + b + c >= 0)))', self), { message: COST_EXCEEDED });
    assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
  });

  test('the limit is per evaluation: a cheap evaluation after an expensive one passes', () => {
    const self = { items: Array.from({ length: 2000 }, (_, i) => i) };
    assert.throws(() => run('self.items.exists(a, self.items.exists(b, a + b < 0))', self), { message: COST_EXCEEDED });
    assert.equal(run('self.items.all(a, a >= 0)', self), true);
  });

  test('an error swallowed inside all() still ends the evaluation once the budget is spent', () => {
    const self = { items: Array.from({ length: 2000 }, (_, i) => i) };
    assert.throws(() => run('self.items.all(a, a == 0 || self.items.all(b, b >= 0))', self), { message: COST_EXCEEDED });
  });

  test('a backtracking regex does not hang (linear fallback)', () => {
    const started = performance.now();
    assert.equal(run("self.s.matches('^(a+)+$')", { s: `${'a'.repeat(5000)}b` }), false);
    assert.equal(run("self.s.find('(a|a)*c')", { s: 'a'.repeat(5000) }), '');
    assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
  });
});
