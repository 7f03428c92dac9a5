import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { isStatusError } from '../../api/status.js';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { services } from '../registry/services.js';
import { ServiceAllocator } from './service-allocator.js';
import { pluginApplies, type AdmissionAttributes, type Operation } from './types.js';

function svc(name: string, spec: Record<string, unknown>, uid = `uid-${name}`): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid }, spec };
}

const key = (name: string) => `/registry/core/services/default/${name}`;

async function setup(now?: () => Date) {
  const store = await openStore('memory://');
  const plugin = new ServiceAllocator({ store, serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 30099], log: () => {}, now });
  const stored = new Map<string, KubeObject>();
  const ctx = { list: () => stored.values(), cached: () => undefined, get: async (_g: string, _p: string, _ns: string, name: string) => stored.get(name) };
  /** Runs the plugin for one write and returns the finish step the chain would run. */
  const admit = async (operation: Operation, opts: { object?: KubeObject; oldObject?: KubeObject; dryRun?: boolean; subresource?: string }) => {
    const finishers: ((committed: boolean) => void | Promise<void>)[] = [];
    const name = (opts.object ?? opts.oldObject)!.metadata.name!;
    const attrs: AdmissionAttributes = {
      operation,
      resource: services,
      subresource: opts.subresource ?? '',
      namespace: 'default',
      name,
      object: opts.object,
      oldObject: opts.oldObject,
      user: { username: 'test', groups: [] },
      dryRun: opts.dryRun ?? false,
      onFinish: (fn) => finishers.push(fn),
      warn: () => {},
    };
    assert.ok(pluginApplies(plugin, attrs));
    await plugin.admit(attrs, ctx);
    return async (committed: boolean) => {
      for (const fn of finishers) await fn(committed && !attrs.dryRun);
    };
  };
  /** A write that commits: the store and the cache then hold the object (or not, after a delete). */
  const commit = async (obj: KubeObject | undefined, name: string) => {
    const got = await store.get(key(name));
    if (obj) {
      stored.set(name, obj);
      if (got.kv) await store.update(key(name), JSON.stringify(obj), got.kv.modRevision);
      else await store.create(key(name), JSON.stringify(obj));
    } else {
      stored.delete(name);
      if (got.kv) await store.delete(key(name));
    }
  };
  const create = async (obj: KubeObject) => {
    const finish = await admit('CREATE', { object: obj });
    await commit(obj, obj.metadata.name!);
    await finish(true);
    return obj;
  };
  const reserved = async () => {
    const { ips, ports } = plugin.allocators;
    return {
      ips: Object.fromEntries((await ips.list()).map((r) => [r.value, r.record.owner.name])),
      ports: Object.fromEntries((await ports.list()).map((r) => [r.value, r.record.owner.name])),
    };
  };
  return { store, plugin, admit, commit, create, reserved };
}

async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isStatusError(err)) return { code: err.status.code ?? 0, message: err.status.message ?? '' };
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('ServiceAllocator', () => {
  describe('CREATE', () => {
    it('allocates and reserves a ClusterIP and NodePorts; two protocols of one port share a NodePort', async () => {
      const { create, reserved } = await setup();
      const obj = await create(svc('web', { type: 'NodePort', ports: [{ name: 'tcp', port: 53, protocol: 'TCP' }, { name: 'udp', port: 53, protocol: 'UDP' }, { name: 'x', port: 80 }] }));
      const spec = obj.spec as any;
      assert.match(spec.clusterIP, /^10\.43\.\d+\.\d+$/);
      assert.deepEqual(spec.clusterIPs, [spec.clusterIP]);
      assert.deepEqual([spec.ipFamilies, spec.ipFamilyPolicy], [['IPv4'], 'SingleStack']);
      assert.equal(spec.ports[0].nodePort, spec.ports[1].nodePort);
      assert.notEqual(spec.ports[0].nodePort, spec.ports[2].nodePort);
      assert.deepEqual(await reserved(), {
        ips: { [spec.clusterIP]: 'web' },
        ports: { [spec.ports[0].nodePort]: 'web', [spec.ports[2].nodePort]: 'web' },
      });
    });

    it('gives everything back when the write does not commit', async () => {
      const { admit, reserved } = await setup();
      const finish = await admit('CREATE', { object: svc('web', { type: 'NodePort', ports: [{ port: 80 }] }) });
      assert.equal(Object.keys((await reserved()).ports).length, 1);
      await finish(false);
      assert.deepEqual(await reserved(), { ips: {}, ports: {} });
    });

    it('refuses taken or out-of-range values with 422 and releases what it took before refusing', async () => {
      const { create, admit, reserved } = await setup();
      await create(svc('a', { type: 'NodePort', clusterIP: '10.43.0.5', ports: [{ port: 80, nodePort: 30005 }] }));
      const taken = await refusal(admit('CREATE', { object: svc('b', { type: 'NodePort', clusterIP: '10.43.0.6', ports: [{ port: 80, nodePort: 30005 }] }) }));
      assert.equal(taken.code, 422);
      assert.equal(taken.message, 'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30005: provided port is already allocated');
      const ip = await refusal(admit('CREATE', { object: svc('c', { clusterIP: '10.43.0.5', ports: [{ port: 80 }] }) }));
      assert.equal(ip.message, 'Service "c" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.5"]: failed to allocate IP 10.43.0.5: provided IP is already allocated');
      const range = await refusal(admit('CREATE', { object: svc('d', { type: 'NodePort', clusterIP: '10.44.0.1', ports: [{ port: 80, nodePort: 40000 }] }) }));
      assert.match(range.message, /the provided IP \(10\.44\.0\.1\) is not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/16/);
      assert.match(range.message, /spec\.ports\[0\]\.nodePort: Invalid value: 40000: provided port is not in the valid range\. The range of valid ports is 30000-30099/);
      assert.deepEqual(await reserved(), { ips: { '10.43.0.5': 'a' }, ports: { '30005': 'a' } }, 'b took 10.43.0.6 and gave it back');
    });

    it('answers AlreadyExists when a stored Service of the same name holds the requested address (the bootstrap case)', async () => {
      const { create, admit } = await setup();
      await create(svc('kubernetes', { clusterIP: '10.43.0.1', ports: [{ port: 443 }] }));
      const again = await refusal(admit('CREATE', { object: svc('kubernetes', { clusterIP: '10.43.0.1', ports: [{ port: 443 }] }, 'uid-2') }));
      assert.equal(again.code, 409);
    });

    it('a same-named Service in flight is AlreadyExists; a stale reservation of a deleted one is 422 until repaired', async () => {
      let now = new Date('2026-01-01T00:00:00Z');
      const { plugin, admit } = await setup(() => now);
      await plugin.allocators.ips.allocateSpecific('10.43.0.7', { namespace: 'default', name: 'web', uid: 'uid-old' });
      now = new Date('2026-01-01T00:00:10Z');
      assert.equal((await refusal(admit('CREATE', { object: svc('web', { clusterIP: '10.43.0.7', ports: [{ port: 80 }] }) }))).code, 409);
      now = new Date('2026-01-01T00:02:00Z');
      assert.equal((await refusal(admit('CREATE', { object: svc('web', { clusterIP: '10.43.0.7', ports: [{ port: 80 }] }) }))).code, 422);
    });

    it('reserves nothing on a dry run, headless or ExternalName Services', async () => {
      const { admit, create, reserved } = await setup();
      const dry = svc('dry', { type: 'NodePort', ports: [{ port: 80 }] });
      const finish = await admit('CREATE', { object: dry, dryRun: true });
      assert.match((dry.spec as any).clusterIP, /^10\.43\./);
      assert.ok((dry.spec as any).ports[0].nodePort >= 30000);
      await finish(true);
      await create(svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }));
      await create(svc('ext', { type: 'ExternalName', externalName: 'example.com' }));
      assert.deepEqual(await reserved(), { ips: {}, ports: {} });
    });

    it('LoadBalancer: no NodePorts when allocateLoadBalancerNodePorts is false; a healthCheckNodePort with externalTrafficPolicy Local', async () => {
      const { create, reserved } = await setup();
      const noPorts = await create(svc('lb1', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }));
      assert.equal((noPorts.spec as any).ports[0].nodePort, undefined);
      const local = await create(svc('lb2', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
      const hc = (local.spec as any).healthCheckNodePort;
      assert.ok(hc >= 30000 && hc <= 30099);
      assert.equal((await reserved()).ports[hc], 'lb2');
    });

    it('leaves status writes alone', async () => {
      const { plugin } = await setup();
      const attrs = { operation: 'UPDATE', resource: services, subresource: 'status' } as AdmissionAttributes;
      assert.equal(pluginApplies(plugin, attrs), false);
    });
  });

  describe('UPDATE', () => {
    it('keeps what the client left out, refuses a taken NodePort, and releases the old one only when the write commits', async () => {
      const { create, admit, commit, reserved } = await setup();
      await create(svc('a', { type: 'NodePort', clusterIP: '10.43.0.5', ports: [{ name: 'http', port: 80, nodePort: 30005 }] }));
      const b = await create(svc('b', { type: 'NodePort', clusterIP: '10.43.0.6', ports: [{ name: 'http', port: 80, nodePort: 30006 }] }));

      const omitted = svc('b', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] });
      await (await admit('UPDATE', { object: omitted, oldObject: b }))(true);
      assert.equal((omitted.spec as any).clusterIP, '10.43.0.6');
      assert.equal((omitted.spec as any).ports[0].nodePort, 30006);

      const steal = await refusal(admit('UPDATE', { object: svc('b', { type: 'NodePort', clusterIP: '10.43.0.6', ports: [{ name: 'http', port: 80, nodePort: 30005 }] }), oldObject: b }));
      assert.equal(steal.code, 422);
      assert.match(steal.message, /spec\.ports\[0\]\.nodePort: Invalid value: 30005: provided port is already allocated/);

      // Move to 30007, but the write fails: 30007 is given back, 30006 stays.
      const moved = () => svc('b', { type: 'NodePort', clusterIP: '10.43.0.6', ports: [{ name: 'http', port: 80, nodePort: 30007 }] });
      await (await admit('UPDATE', { object: moved(), oldObject: b }))(false);
      assert.deepEqual((await reserved()).ports, { '30005': 'a', '30006': 'b' });
      // Now it commits: 30007 is b's, 30006 is free.
      const next = moved();
      const finish = await admit('UPDATE', { object: next, oldObject: b });
      assert.deepEqual((await reserved()).ports, { '30005': 'a', '30006': 'b', '30007': 'b' }, 'both held until the write is over');
      await commit(next, 'b');
      await finish(true);
      assert.deepEqual((await reserved()).ports, { '30005': 'a', '30007': 'b' });
    });

    it('refuses a ClusterIP change (may not change once set)', async () => {
      const { create, admit } = await setup();
      const a = await create(svc('a', { clusterIP: '10.43.0.5', ports: [{ port: 80 }] }));
      const r = await refusal(admit('UPDATE', { object: svc('a', { clusterIP: '10.43.0.9', clusterIPs: ['10.43.0.9'], ports: [{ port: 80 }] }), oldObject: a }));
      assert.equal(r.message, 'Service "a" is invalid: spec.clusterIPs[0]: Invalid value: ["10.43.0.9"]: may not change once set');
      const headless = await refusal(admit('UPDATE', { object: svc('a', { clusterIP: 'None', ports: [{ port: 80 }] }), oldObject: a }));
      assert.match(headless.message, /may not change once set/);
    });

    it('a type change to ClusterIP drops unchanged NodePorts and releases them on commit', async () => {
      const { create, admit, commit, reserved } = await setup();
      const a = await create(svc('a', { type: 'NodePort', externalTrafficPolicy: 'Cluster', clusterIP: '10.43.0.5', ports: [{ port: 80, nodePort: 30005 }] }));
      const next = svc('a', { type: 'ClusterIP', externalTrafficPolicy: 'Cluster', clusterIP: '10.43.0.5', ports: [{ port: 80, nodePort: 30005 }] });
      const finish = await admit('UPDATE', { object: next, oldObject: a });
      assert.equal((next.spec as any).ports[0].nodePort, undefined);
      assert.equal((next.spec as any).externalTrafficPolicy, undefined);
      await commit(next, 'a');
      await finish(true);
      assert.deepEqual(await reserved(), { ips: { '10.43.0.5': 'a' }, ports: {} });
    });

    it('ClusterIP -> ExternalName releases the address; ExternalName -> ClusterIP allocates one', async () => {
      const { create, admit, commit, reserved } = await setup();
      const a = await create(svc('a', { clusterIP: '10.43.0.5', clusterIPs: ['10.43.0.5'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] }));
      const ext = svc('a', { type: 'ExternalName', externalName: 'example.com', clusterIP: '10.43.0.5', clusterIPs: ['10.43.0.5'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] });
      let finish = await admit('UPDATE', { object: ext, oldObject: a });
      assert.equal((ext.spec as any).clusterIP, undefined);
      assert.equal((ext.spec as any).ipFamilies, undefined);
      await commit(ext, 'a');
      await finish(true);
      assert.deepEqual((await reserved()).ips, {});
      const back = svc('a', { type: 'ClusterIP', ports: [{ port: 80 }] });
      finish = await admit('UPDATE', { object: back, oldObject: ext });
      await commit(back, 'a');
      await finish(true);
      const ip = (back.spec as any).clusterIP;
      assert.match(ip, /^10\.43\./);
      assert.deepEqual((await reserved()).ips, { [ip]: 'a' });
    });
  });

  describe('DELETE', () => {
    it('releases everything once the Service is gone, nothing while finalizers keep it', async () => {
      const { create, admit, commit, reserved } = await setup();
      const a = await create(svc('a', { type: 'NodePort', clusterIP: '10.43.0.5', ports: [{ port: 80, nodePort: 30005 }] }));
      // Finalizers pending: the delete only marks the Service.
      let finish = await admit('DELETE', { oldObject: a });
      await finish(true);
      assert.deepEqual(await reserved(), { ips: { '10.43.0.5': 'a' }, ports: { '30005': 'a' } });
      // A dry run releases nothing either.
      await commit(undefined, 'a');
      finish = await admit('DELETE', { oldObject: a, dryRun: true });
      await finish(true);
      assert.equal(Object.keys((await reserved()).ips).length, 1);
      finish = await admit('DELETE', { oldObject: a });
      await finish(true);
      assert.deepEqual(await reserved(), { ips: {}, ports: {} });
    });
  });
});
