import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { configmaps } from '../registry/configmaps.js';
import { namespaces } from '../registry/namespaces.js';
import { AdmissionRun } from './chain.js';
import { namespaceLifecycle } from './namespace-lifecycle.js';
import type { AdmissionContext } from './types.js';

const stored: Record<string, KubeObject> = {
  live: { metadata: { name: 'live' } },
  leaving: { metadata: { name: 'leaving', deletionTimestamp: '2026-12-07T00:00:00Z' } },
};
const ctx: AdmissionContext = { list: () => [], cached: () => undefined, get: async (_g, _p, _ns, name) => stored[name] };
const user = { username: 'u', groups: [] };

async function admit(operation: 'CREATE' | 'DELETE' | 'UPDATE', resource = configmaps, namespace = 'live', name = 'x', subresource = ''): Promise<number | undefined> {
  const run = new AdmissionRun({ mutating: [namespaceLifecycle()], validating: [] }, ctx, { operation, resource, subresource, namespace, name, object: { metadata: { name } }, user, dryRun: false });
  try {
    await run.mutate();
    return undefined;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

test('NamespaceLifecycle, per operation', async () => {
  assert.equal(await admit('CREATE'), undefined, 'create in a live namespace');
  assert.equal(await admit('CREATE', configmaps, 'missing'), 404, 'create in a missing namespace');
  assert.equal(await admit('CREATE', configmaps, 'leaving'), 403, 'create in a terminating namespace');
  assert.equal(await admit('CREATE', configmaps, 'leaving', 'x', 'binding'), undefined, 'subresource creates address existing objects');
  assert.equal(await admit('UPDATE', configmaps, 'leaving'), undefined, 'updates are not its business');
  assert.equal(await admit('CREATE', namespaces, '', 'new'), undefined, 'namespaces themselves');
  assert.equal(await admit('DELETE', namespaces, 'kube-system', 'kube-system'), 403, 'kube-system may not be deleted');
  assert.equal(await admit('DELETE', namespaces, 'team-a', 'team-a'), undefined);
});

test('finish functions learn whether the write committed; a dry run never commits', async () => {
  const seen: boolean[] = [];
  const plugin = { name: 'p', operations: ['CREATE'] as const, admit: (a: { onFinish(fn: (c: boolean) => void): void }) => a.onFinish((c) => seen.push(c)) };
  for (const [dryRun, committed] of [[false, true], [false, false], [true, true]] as const) {
    const run = new AdmissionRun({ mutating: [plugin], validating: [] }, ctx, { operation: 'CREATE', resource: configmaps, subresource: '', namespace: 'live', name: 'x', object: { metadata: {} }, user, dryRun });
    await run.mutate();
    await run.finish(committed);
  }
  assert.deepEqual(seen, [true, false, false]);
});
