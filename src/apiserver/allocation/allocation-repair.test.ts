import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { AllocationRepair } from './allocation-repair.js';
import { serviceAllocators } from './service-allocators.js';

function service(name: string, spec: Record<string, unknown>, uid = `uid-${name}`): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid }, spec };
}

async function storeService(store: Store, svc: KubeObject): Promise<void> {
  await store.create(`/registry/core/services/${svc.metadata.namespace}/${svc.metadata.name}`, JSON.stringify(svc));
}

async function setup() {
  const store = await openStore('memory://');
  let now = new Date('2026-01-01T00:00:00Z');
  const clock = {
    now: () => now,
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
  };
  const opts = { store, serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] as [number, number], now: clock.now };
  const lines: string[] = [];
  const repair = new AllocationRepair({ ...opts, graceMs: 60_000, log: (l) => lines.push(l) });
  const alloc = serviceAllocators(opts);
  const reserved = async () => ({
    ips: Object.fromEntries((await alloc.ips.list()).map((r) => [r.value, r.record.owner.name])),
    ports: Object.fromEntries((await alloc.ports.list()).map((r) => [r.value, r.record.owner.name])),
  });
  return { store, clock, repair, alloc, reserved, lines };
}

describe('AllocationRepair', () => {
  it('reserves what Services stored before reservations existed hold', async () => {
    const { store, repair, reserved } = await setup();
    await storeService(store, service('kubernetes', { type: 'ClusterIP', clusterIP: '10.43.0.1', ports: [{ port: 443 }] }));
    await storeService(store, service('web', { type: 'NodePort', clusterIP: '10.43.5.5', ports: [{ port: 80, nodePort: 30080 }, { port: 80, protocol: 'UDP', nodePort: 30080 }] }));
    await storeService(store, service('lb', { type: 'LoadBalancer', clusterIP: '10.43.5.6', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, ports: [{ port: 80, nodePort: 30081 }] }));
    await storeService(store, service('headless', { clusterIP: 'None', ports: [{ port: 80 }] }));
    await storeService(store, service('ext', { type: 'ExternalName', externalName: 'example.com' }));
    const report = await repair.runOnce();
    assert.equal(report.created.length, 6);
    assert.deepEqual(await reserved(), {
      ips: { '10.43.0.1': 'kubernetes', '10.43.5.5': 'web', '10.43.5.6': 'lb' },
      ports: { '30080': 'web', '30081': 'lb', '31000': 'lb' },
    });
    assert.deepEqual(await repair.runOnce(), { created: [], released: [], problems: [] }, 'a second pass changes nothing');
  });

  it('deletes a reservation its owner does not hold only once it is older than the grace period', async () => {
    const { store, clock, repair, alloc, reserved } = await setup();
    await storeService(store, service('web', { type: 'NodePort', clusterIP: '10.43.5.5', ports: [{ port: 80, nodePort: 30080 }] }));
    await repair.runOnce();
    // A write in flight: reserved, not committed yet (or its Service was deleted and the release was lost).
    await alloc.ports.allocateSpecific('30090', { namespace: 'default', name: 'web', uid: 'uid-web' });
    await alloc.ips.allocateSpecific('10.43.9.9', { namespace: 'default', name: 'gone', uid: 'uid-gone' });
    clock.advance(59_000);
    assert.deepEqual((await repair.runOnce()).released, [], 'young reservations are left alone');
    clock.advance(2_000);
    assert.deepEqual((await repair.runOnce()).released.sort(), ['ClusterIP 10.43.9.9', 'NodePort 30090']);
    assert.deepEqual(await reserved(), { ips: { '10.43.5.5': 'web' }, ports: { '30080': 'web' } });
  });

  it('hands an item over to the Service that holds it when an old reservation names someone else', async () => {
    const { store, clock, repair, alloc, reserved } = await setup();
    // The reservation of a deleted Service "web" (old uid) whose release was lost; "web" was re-created with the port.
    await alloc.ports.allocateSpecific('30080', { namespace: 'default', name: 'web', uid: 'uid-old' });
    await storeService(store, service('web', { type: 'NodePort', clusterIP: '10.43.5.5', ports: [{ port: 80, nodePort: 30080 }] }, 'uid-new'));
    await repair.runOnce();
    assert.equal((await alloc.ports.get('30080'))?.record.owner.uid, 'uid-old', 'not within the grace period');
    clock.advance(120_000);
    await repair.runOnce();
    assert.equal((await alloc.ports.get('30080'))?.record.owner.uid, 'uid-new');
    assert.deepEqual((await reserved()).ports, { '30080': 'web' });
  });

  it('reports Services that share an item or hold one outside the range, and changes neither', async () => {
    const { store, repair, reserved } = await setup();
    await storeService(store, service('a', { type: 'NodePort', clusterIP: '10.43.1.1', ports: [{ port: 80, nodePort: 30080 }] }));
    await storeService(store, service('b', { type: 'NodePort', clusterIP: '10.43.1.2', ports: [{ port: 80, nodePort: 30080 }] }));
    await storeService(store, service('c', { clusterIP: '10.99.0.1', ports: [{ port: 80 }] }));
    const report = await repair.runOnce();
    assert.equal(report.problems.length, 2);
    assert.match(report.problems.join('\n'), /NodePort 30080 is held by several Services: default\/a, default\/b/);
    assert.match(report.problems.join('\n'), /ClusterIP 10\.99\.0\.1 of default\/c is not in the range 10\.43\.0\.0\/16/);
    assert.equal((await reserved()).ports['30080'], 'a');
  });

  it('start runs a first pass and logs what it did; stop ends the timer', async () => {
    const { store, repair, lines } = await setup();
    await storeService(store, service('web', { clusterIP: '10.43.5.5', ports: [{ port: 80 }] }));
    await repair.start();
    repair.stop();
    assert.match(lines.join('\n'), /reserved 1 item\(s\).*ClusterIP 10\.43\.5\.5 for default\/web/);
  });
});
