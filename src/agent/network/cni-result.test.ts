import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCniVersions, podIpsFromResult, type CniResult } from './cni-result.js';

test('podIpsFromResult takes the addresses of the interface inside the sandbox, in order', () => {
  const cases: Array<[string, CniResult, { ips: string[]; gateway?: string }]> = [
    [
      'bridge 1.0.0 result: host-side interfaces ignored',
      {
        cniVersion: '1.0.0',
        interfaces: [{ name: 'cni0', mac: 'a' }, { name: 'veth1', mac: 'b' }, { name: 'eth0', mac: 'c', sandbox: '/run/netns/p' }],
        ips: [
          { interface: 2, address: '10.42.0.5/24', gateway: '10.42.0.1' },
          { interface: 2, address: 'fd00::5/64', gateway: 'fd00::1' },
          { interface: 0, address: '10.42.0.1/24' },
        ],
      },
      { ips: ['10.42.0.5', 'fd00::5'], gateway: '10.42.0.1' },
    ],
    ['IPAM-only result without interfaces', { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.1.2.3/16' }] }, { ips: ['10.1.2.3'] }],
    ['0.2.0 result', { cniVersion: '0.2.0', ip4: { ip: '10.1.2.3/16', gateway: '10.1.0.1' } }, { ips: ['10.1.2.3'], gateway: '10.1.0.1' }],
    ['another interface name', { cniVersion: '1.0.0', interfaces: [{ name: 'net1', sandbox: '/p' }], ips: [{ interface: 0, address: '10.0.0.2/24' }] }, { ips: [] }],
  ];
  for (const [name, result, expected] of cases) assert.deepEqual(podIpsFromResult(result, 'eth0'), expected, name);
});

test('compareCniVersions orders dotted versions numerically', () => {
  assert.ok(compareCniVersions('0.4.0', '0.3.1') > 0);
  assert.ok(compareCniVersions('1.0.0', '0.4.0') > 0);
  assert.ok(compareCniVersions('0.10.0', '0.4.0') > 0);
  assert.equal(compareCniVersions('0.4', '0.4.0'), 0);
  assert.ok(compareCniVersions('0.3.1', '0.4.0') < 0);
});
