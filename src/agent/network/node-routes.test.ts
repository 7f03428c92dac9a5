import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrWithin, computeNodeRoutes, networkAddress, vtepAddress, type ComputeNodeRoutesInput, type NodeNetInfo } from './node-routes.js';
import { nodeNetInfo, vxlanDeviceName } from './node-network.js';

const self: NodeNetInfo = { name: 'a', podCidrs: ['10.72.0.0/24'], internalIp: '10.231.0.2', vtepMac: '02:00:00:00:00:0a' };
const sameLink: NodeNetInfo = { name: 'b', podCidrs: ['10.72.1.0/24'], internalIp: '10.231.0.3', vtepMac: '02:00:00:00:00:0b' };
const otherSubnet: NodeNetInfo = { name: 'c', podCidrs: ['10.72.2.0/24'], internalIp: '10.232.0.2', vtepMac: '02:00:00:00:00:0C' };
const base: ComputeNodeRoutesInput = {
  self: 'a',
  nodes: [self, sameLink, otherSubnet],
  backend: 'auto',
  addresses: [{ address: '10.231.0.2', prefixLen: 24, dev: 'eth0' }],
  vxlanDev: 'skv123456',
};

describe('computeNodeRoutes', () => {
  it('auto: host-gw to a node on a shared link, vxlan (route onlink, neighbour, fdb) to one on another subnet', () => {
    const d = computeNodeRoutes(base);
    assert.deepEqual(d.routes, [
      { dst: '10.72.1.0/24', via: '10.231.0.3', node: 'b', mode: 'host-gw' },
      { dst: '10.72.2.0/24', via: '10.72.2.0', dev: 'skv123456', onlink: true, node: 'c', mode: 'vxlan' },
    ]);
    assert.deepEqual(d.neighbours, [{ ip: '10.72.2.0', mac: '02:00:00:00:00:0c', dev: 'skv123456' }]);
    assert.deepEqual(d.fdb, [{ mac: '02:00:00:00:00:0c', dst: '10.232.0.2', port: 8472, dev: 'skv123456' }]);
    assert.equal(d.needsVxlan, true);
    assert.deepEqual(d.skipped, []);
  });

  const cases: Array<{ name: string; input: Partial<ComputeNodeRoutesInput>; routes: string[]; needsVxlan: boolean; skipped: string[] }> = [
    { name: 'all on one link: no vxlan at all', input: { nodes: [self, sameLink] }, routes: ['10.72.1.0/24 via 10.231.0.3'], needsVxlan: false, skipped: [] },
    { name: 'host-gw only: the node off-link is skipped with the reason', input: { backend: 'host-gw' }, routes: ['10.72.1.0/24 via 10.231.0.3'], needsVxlan: false, skipped: ['c: host-gw needs 10.232.0.2 on a directly connected link'] },
    { name: 'vxlan only: even the node on the shared link', input: { backend: 'vxlan' }, routes: ['10.72.1.0/24 via 10.72.1.0', '10.72.2.0/24 via 10.72.2.0'], needsVxlan: true, skipped: [] },
    { name: 'a vxlan peer without a published MAC waits (the device is still wanted)', input: { nodes: [self, { ...otherSubnet, vtepMac: undefined } as NodeNetInfo] }, routes: [], needsVxlan: true, skipped: ['c: no VTEP MAC published yet'] },
    { name: 'a node without podCIDR is nothing to route', input: { nodes: [self, { name: 'd', podCidrs: [], internalIp: '10.231.0.9' }] }, routes: [], needsVxlan: false, skipped: [] },
    { name: 'a node without an InternalIP', input: { nodes: [self, { name: 'd', podCidrs: ['10.72.9.0/24'] }] }, routes: [], needsVxlan: false, skipped: ['d: no IPv4 InternalIP'] },
    { name: 'a node on this very host (same InternalIP): its bridge is local', input: { nodes: [self, { name: 'e', podCidrs: ['10.72.4.0/24'], internalIp: '10.231.0.2' }] }, routes: [], needsVxlan: false, skipped: ["e: its InternalIP 10.231.0.2 is this host's own"] },
    { name: 'a podCIDR that is this node\'s own is never routed away', input: { nodes: [self, { name: 'f', podCidrs: ['10.72.0.0/24'], internalIp: '10.231.0.7' }] }, routes: [], needsVxlan: false, skipped: ["f: podCIDR 10.72.0.0/24 is also this node's"] },
    { name: 'two nodes claiming one podCIDR: the first by name wins', input: { nodes: [self, sameLink, { name: 'z', podCidrs: ['10.72.1.0/24'], internalIp: '10.231.0.8' }] }, routes: ['10.72.1.0/24 via 10.231.0.3'], needsVxlan: false, skipped: ["z: podCIDR 10.72.1.0/24 is also b's"] },
    { name: 'IPv6-only podCIDRs are not programmed', input: { nodes: [self, { name: 'g', podCidrs: ['fd42::/64'], internalIp: '10.231.0.4' }] }, routes: [], needsVxlan: false, skipped: ['g: no IPv4 podCIDR'] },
    { name: 'dual-stack: the IPv4 podCIDR is routed', input: { nodes: [self, { ...sameLink, podCidrs: ['10.72.1.0/24', 'fd42:1::/64'] }] }, routes: ['10.72.1.0/24 via 10.231.0.3'], needsVxlan: false, skipped: [] },
    { name: 'no own node yet: others are still computed', input: { nodes: [sameLink] }, routes: ['10.72.1.0/24 via 10.231.0.3'], needsVxlan: false, skipped: [] },
    { name: 'simulated nodes are never routed to (and want no vxlan device)', input: { nodes: [self, { ...otherSubnet, simulated: true }] }, routes: [], needsVxlan: false, skipped: [] },
    { name: 'a /32 address is no link', input: { addresses: [{ address: '10.231.0.2', prefixLen: 32, dev: 'eth0' }], nodes: [self, sameLink] }, routes: ['10.72.1.0/24 via 10.72.1.0'], needsVxlan: true, skipped: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = computeNodeRoutes({ ...base, ...c.input });
      assert.deepEqual(d.routes.map((r) => `${r.dst} via ${r.via}`), c.routes);
      assert.equal(d.needsVxlan, c.needsVxlan);
      assert.equal(d.skipped.length, c.skipped.length, JSON.stringify(d.skipped));
      c.skipped.forEach((s, i) => assert.ok(`${d.skipped[i]!.node}: ${d.skipped[i]!.reason}`.startsWith(s), `${JSON.stringify(d.skipped[i])} starts with ${s}`));
    });
  }

  it('a peer on another VXLAN port gets it in its FDB entry', () => {
    const d = computeNodeRoutes({ ...base, nodes: [self, { ...otherSubnet, vtepPort: 8473 }] });
    assert.equal(d.fdb[0]!.port, 8473);
  });
});

describe('helpers', () => {
  it('addresses and CIDRs', () => {
    assert.equal(networkAddress('10.72.3.77/24'), '10.72.3.0');
    assert.equal(vtepAddress(['fd00::/64', '10.72.5.0/24']), '10.72.5.0');
    assert.equal(vtepAddress(['fd00::/64']), undefined);
    assert.equal(cidrWithin('10.72.3.0/24', ['10.72.0.0/16']), true);
    assert.equal(cidrWithin('10.73.3.0/24', ['10.72.0.0/16']), false);
    assert.equal(cidrWithin('10.0.0.0/8', ['10.72.0.0/16']), false);
  });

  it('vxlan device names: distinct per bridge, at most 15 characters', () => {
    assert.equal(vxlanDeviceName('skiff1a2b3c'), 'skv1a2b3c');
    assert.equal(vxlanDeviceName('cni0'), 'cni0-vx');
    assert.ok(vxlanDeviceName('averyverylongbr0').length <= 15);
  });

  it('nodeNetInfo reads podCIDRs, the IPv4 InternalIP and valid VTEP annotations only', () => {
    const info = nodeNetInfo({
      metadata: { name: 'n', annotations: { 'skiff.dev/vtep-mac': '02:aa:bb:cc:dd:ee', 'skiff.dev/vtep-port': '8474' } },
      spec: { podCIDR: '10.72.7.0/24' },
      status: { addresses: [{ type: 'Hostname', address: 'n' }, { type: 'InternalIP', address: 'fd00::1' }, { type: 'InternalIP', address: '10.231.0.5' }] },
    } as never);
    assert.deepEqual(info, { name: 'n', podCidrs: ['10.72.7.0/24'], internalIp: '10.231.0.5', vtepMac: '02:aa:bb:cc:dd:ee', vtepPort: 8474 });
    const bad = nodeNetInfo({ metadata: { name: 'n', annotations: { 'skiff.dev/vtep-mac': 'nonsense', 'skiff.dev/vtep-port': '99999' } }, spec: {}, status: {} } as never);
    assert.deepEqual(bad, { name: 'n', podCidrs: [] });
  });
});
