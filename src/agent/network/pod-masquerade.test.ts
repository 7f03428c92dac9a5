import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podMasqueradeChain, renderMasqueradeRules, splitRule } from './pod-masquerade.js';

test('the masquerade rules: RETURN for the podCIDR, MASQUERADE for the rest but multicast, one jump by source', () => {
  assert.deepEqual(renderMasqueradeRules('skiff1a2b3c', ['10.42.3.0/24']), {
    chain: [
      ['-d', '10.42.3.0/24', '-m', 'comment', '--comment', 'skiff: pod to pod, not masqueraded', '-j', 'RETURN'],
      ['!', '-d', '224.0.0.0/4', '-m', 'comment', '--comment', 'skiff: pods leaving the node', '-j', 'MASQUERADE'],
    ],
    jump: ['-s', '10.42.3.0/24', '-m', 'comment', '--comment', 'skiff: masquerade for pods on skiff1a2b3c', '-j', 'SKIFF-MASQ-skiff1a2b3c'],
  });
  assert.deepEqual(renderMasqueradeRules('br0', ['fd42::/64']).chain[1], ['!', '-d', 'ff00::/8', '-m', 'comment', '--comment', 'skiff: pods leaving the node', '-j', 'MASQUERADE']);
  assert.ok(podMasqueradeChain('a-15-char-name1').length <= 28, 'iptables chain names are at most 28 characters');
});

test('the cluster CIDR is not masqueraded either (pods reach other nodes\' pods with their own address), per family', () => {
  const rules = renderMasqueradeRules('skiff1a2b3c', ['10.72.3.0/24'], ['10.72.0.0/16', 'fd72::/56']);
  assert.deepEqual(rules.chain.map((r) => `${r[0]} ${r[1]} ${r.at(-1)}`), ['-d 10.72.0.0/16 RETURN', '-d 10.72.3.0/24 RETURN', '! -d MASQUERADE']);
  assert.deepEqual(renderMasqueradeRules('br0', ['fd72::/64'], ['10.72.0.0/16', 'fd72::/56']).chain.map((r) => r[1]), ['fd72::/56', 'fd72::/64', '-d']);
  assert.equal(rules.jump[1], '10.72.3.0/24', 'the jump still selects this node\'s pods only');
});

test('splitRule reads iptables -S output back into the arguments that made it', () => {
  const rule = renderMasqueradeRules('skiff1a2b3c', ['10.42.3.0/24']).jump;
  const printed = '-s 10.42.3.0/24 -m comment --comment "skiff: masquerade for pods on skiff1a2b3c" -j SKIFF-MASQ-skiff1a2b3c';
  assert.deepEqual(splitRule(printed), rule);
  assert.deepEqual(splitRule('-m comment --comment "a \\"quoted\\" word" -j X'), ['-m', 'comment', '--comment', 'a "quoted" word', '-j', 'X']);
});
