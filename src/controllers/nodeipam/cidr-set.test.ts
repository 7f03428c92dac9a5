import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CidrSet, parseCidr, formatCidr } from './cidr-set.js';

test('parseCidr clears host bits and formats back canonically', () => {
  const cases: [string, string][] = [
    ['10.42.0.0/16', '10.42.0.0/16'],
    ['10.42.7.9/24', '10.42.7.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00:10:42::/56', 'fd00:10:42::/56'],
    ['FD00:0:0:0:0:0:0:1/64', 'fd00::/64'],
    ['::ffff:10.0.0.1/120', '::ffff:a00:0/120'],
  ];
  for (const [input, want] of cases) assert.equal(formatCidr(parseCidr(input)), want, input);
});

test('parseCidr refuses what is not a CIDR, quoting it', () => {
  for (const bad of ['10.42.0.0', '10.42.0.0/33', '10.42.0/16', 'fd00::/129', 'x/8', '10.0.0.0/-1', '']) {
    assert.throws(() => parseCidr(bad), { message: `invalid CIDR address: ${JSON.stringify(bad)}` }, bad);
  }
});

test('the constructor refuses mask sizes that do not fit', () => {
  const cases: [string, number, RegExp][] = [
    ['10.42.0.0/16', 15, /mask size 15 does not fit cluster CIDR 10\.42\.0\.0\/16: it must be from 16 to 32/],
    ['10.42.0.0/16', 33, /must be from 16 to 32/],
    ['10.0.0.0/8', 25, /would hold 131072 node CIDRs; the mask sizes may differ by at most 16/],
    ['fd00::/48', 80, /may differ by at most 16/],
  ];
  for (const [cidr, mask, message] of cases) assert.throws(() => new CidrSet(cidr, mask), { message }, `${cidr} /${mask}`);
});

test('allocation walks the range in order, round-robin past released CIDRs, and ends when full', () => {
  const set = new CidrSet('10.42.0.0/22', 24);
  assert.equal(set.size, 4);
  assert.deepEqual([set.allocateNext(), set.allocateNext(), set.allocateNext()], ['10.42.0.0/24', '10.42.1.0/24', '10.42.2.0/24']);
  set.release('10.42.0.0/24');
  // The next candidate comes after the last one handed out, so a freed CIDR is not reused at once.
  assert.equal(set.allocateNext(), '10.42.3.0/24');
  assert.equal(set.allocateNext(), '10.42.0.0/24');
  assert.equal(set.free, 0);
  assert.equal(set.allocateNext(), undefined);
});

test('occupy marks what a CIDR covers: a bigger one several node CIDRs, a smaller one its node CIDR', () => {
  const set = new CidrSet('10.42.0.0/16', 24);
  set.occupy('10.42.0.0/23');
  set.occupy('10.42.5.128/25');
  assert.equal(set.free, 256 - 3);
  assert.ok(set.isUsed('10.42.1.0/24'));
  assert.ok(set.isUsed('10.42.5.0/24'));
  assert.equal(set.allocateNext(), '10.42.2.0/24');
  set.occupy('10.42.2.0/24'); // idempotent
  assert.equal(set.free, 256 - 4);
  set.release('10.42.0.0/23');
  assert.equal(set.free, 256 - 2);
});

test('occupy refuses CIDRs of the other family or outside the cluster CIDR', () => {
  const set = new CidrSet('10.42.0.0/16', 24);
  assert.throws(() => set.occupy('10.43.0.0/24'), { message: 'CIDR 10.43.0.0/24 is outside the cluster CIDR 10.42.0.0/16' });
  assert.throws(() => set.occupy('10.0.0.0/8'), /outside the cluster CIDR/);
  assert.throws(() => set.occupy('fd00::/64'), /not an IPv4 CIDR/);
  assert.equal(set.contains('10.42.255.0/24'), true);
  assert.equal(set.contains('10.41.0.0/24'), false);
});

test('IPv6 node CIDRs', () => {
  const set = new CidrSet('fd00:10:42::/56', 64);
  assert.equal(set.size, 256);
  assert.equal(set.allocateNext(), 'fd00:10:42::/64');
  assert.equal(set.allocateNext(), 'fd00:10:42:1::/64');
  set.occupy('fd00:10:42:ff::/64');
  assert.equal(set.free, 253);
});
