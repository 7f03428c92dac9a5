import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { deepEqual } from '../../api/validation.js';
import { AUTO_UPDATE_ANNOTATION, ensureFlowcontrolConfiguration, type FlowcontrolApi } from './flowcontrol-bootstrap.js';
import { flowschemas } from './flowschemas.js';
import { prioritylevelconfigurations } from './prioritylevelconfigurations.js';

type Kind = 'flowschemas' | 'prioritylevelconfigurations';

function fakeApi() {
  const stores: Record<Kind, Map<string, KubeObject>> = { flowschemas: new Map(), prioritylevelconfigurations: new Map() };
  const api: FlowcontrolApi = {
    get: async (kind, name) => stores[kind].get(name),
    list: async (kind) => [...stores[kind].values()],
    create: async (kind, obj) => void stores[kind].set(obj.metadata.name!, obj),
    updateSpec: async (kind, cur, spec) => void stores[kind].set(cur.metadata.name!, { ...cur, spec }),
    updateStatus: async (kind, cur, status) => void stores[kind].set(cur.metadata.name!, { ...stores[kind].get(cur.metadata.name!)!, status }),
  };
  return { api, stores };
}

const now = new Date('2026-12-07T19:00:00Z');
const pass = (api: FlowcontrolApi, initial: boolean) => ensureFlowcontrolConfiguration(api, { initial, now, specsEqual: deepEqual });

describe('APF bootstrap configuration', () => {
  it('creates 1.32 mandatory and suggested objects, all valid, none dangling', async () => {
    const { api, stores } = fakeApi();
    await pass(api, true);
    assert.deepEqual([...stores.prioritylevelconfigurations.keys()].sort(), ['catch-all', 'exempt', 'global-default', 'leader-election', 'node-high', 'system', 'workload-high', 'workload-low']);
    assert.deepEqual([...stores.flowschemas.keys()].sort(), [
      'catch-all',
      'endpoint-controller',
      'exempt',
      'global-default',
      'kube-controller-manager',
      'kube-scheduler',
      'kube-system-service-accounts',
      'probes',
      'service-accounts',
      'system-leader-election',
      'system-node-high',
      'system-nodes',
      'workload-leader-election',
    ]);
    for (const o of stores.prioritylevelconfigurations.values()) assert.deepEqual(prioritylevelconfigurations.strategy.validate(structuredClone(o)), [], o.metadata.name);
    for (const o of stores.flowschemas.values()) {
      assert.deepEqual(flowschemas.strategy.validate(structuredClone(o)), [], o.metadata.name);
      const cond = (o.status as { conditions: Array<Record<string, string>> }).conditions[0]!;
      assert.deepEqual([cond.type, cond.status, cond.reason], ['Dangling', 'False', 'Found']);
    }
    // Defaults are already in the bootstrap specs, so a stored (defaulted) object compares equal and is not rewritten.
    const pl = structuredClone(stores.prioritylevelconfigurations.get('workload-low')!);
    prioritylevelconfigurations.strategy.prepareForCreate!(pl);
    assert.deepEqual(pl.spec, stores.prioritylevelconfigurations.get('workload-low')!.spec);
    assert.deepEqual(await pass(api, false), []);
  });

  it('re-creates deleted mandatory objects only, restores auto-updated specs, leaves user-owned ones alone', async () => {
    const { api, stores } = fakeApi();
    await pass(api, true);
    stores.flowschemas.delete('exempt');
    stores.flowschemas.delete('global-default');
    const catchAll = stores.prioritylevelconfigurations.get('catch-all')!;
    stores.prioritylevelconfigurations.set('catch-all', { ...catchAll, spec: { type: 'Limited', limited: { nominalConcurrencyShares: 99, limitResponse: { type: 'Reject' } } } });
    const wl = stores.prioritylevelconfigurations.get('workload-low')!;
    const userSpec = { type: 'Limited', limited: { nominalConcurrencyShares: 7, lendablePercent: 0, limitResponse: { type: 'Reject' } } };
    stores.prioritylevelconfigurations.set('workload-low', { ...wl, metadata: { ...wl.metadata, annotations: { [AUTO_UPDATE_ANNOTATION]: 'false' } }, spec: userSpec });
    const wrote = await pass(api, false);
    assert.ok(stores.flowschemas.has('exempt'));
    assert.ok(!stores.flowschemas.has('global-default'), 'a deleted suggested object stays deleted');
    assert.equal((stores.prioritylevelconfigurations.get('catch-all')!.spec as { limited: { nominalConcurrencyShares: number } }).limited.nominalConcurrencyShares, 5);
    assert.deepEqual(stores.prioritylevelconfigurations.get('workload-low')!.spec, userSpec);
    assert.ok(wrote.includes('flowschemas/exempt') && wrote.includes('prioritylevelconfigurations/catch-all'));
  });

  it('marks a schema whose priority level is missing as dangling', async () => {
    const { api, stores } = fakeApi();
    await pass(api, true);
    stores.flowschemas.set('mine', { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'mine' }, spec: { priorityLevelConfiguration: { name: 'nope' }, matchingPrecedence: 500 } });
    await pass(api, false);
    const cond = (stores.flowschemas.get('mine')!.status as { conditions: Array<Record<string, string>> }).conditions[0]!;
    assert.deepEqual([cond.status, cond.reason, cond.message], ['True', 'NotFound', 'This FlowSchema references the PriorityLevelConfiguration object named "nope" but there is no such object']);
  });
});
