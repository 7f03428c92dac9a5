import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { pods } from '../registry/pods.js';
import { runtimeClassAdmission, runtimeClassValidation } from './runtime-class.js';
import { pluginApplies, type AdmissionAttributes, type AdmissionContext } from './types.js';

const gvisor: KubeObject = {
  apiVersion: 'node.k8s.io/v1',
  kind: 'RuntimeClass',
  metadata: { name: 'gvisor' },
  handler: 'runsc',
  overhead: { podFixed: { cpu: '250m', memory: '120Mi' } },
  scheduling: { nodeSelector: { sandbox: 'gvisor' }, tolerations: [{ key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }] },
} as KubeObject;

function pod(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec } };
}

async function run(object: KubeObject, classes: KubeObject[] = [gvisor]): Promise<KubeObject> {
  const ctx: AdmissionContext = {
    list: () => [],
    cached: () => undefined,
    get: async (group, plural, _ns, name) => (group === 'node.k8s.io' && plural === 'runtimeclasses' ? classes.find((c) => c.metadata.name === name) : undefined),
  };
  const attrs: AdmissionAttributes = {
    operation: 'CREATE',
    resource: pods,
    subresource: '',
    namespace: 'default',
    name: 'p',
    object: structuredClone(object),
    user: { username: 'u', groups: [] },
    dryRun: false,
    onFinish: () => {},
    warn: () => {},
  };
  const m = runtimeClassAdmission();
  const v = runtimeClassValidation();
  assert.ok(pluginApplies(m, attrs) && pluginApplies(v, attrs));
  await m.admit(attrs, ctx);
  await v.validate(attrs, ctx);
  return attrs.object!;
}

async function refusal(object: KubeObject, classes?: KubeObject[]): Promise<string> {
  const err = await run(object, classes).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof StatusError, 'refused');
  assert.equal(err.status.code, 403);
  return err.message;
}

describe('RuntimeClass admission', () => {
  it('adds the overhead, merges the node selector and the tolerations', async () => {
    const out = await run(pod({ runtimeClassName: 'gvisor', nodeSelector: { zone: 'a' }, tolerations: [{ key: 'x', operator: 'Exists' }] }));
    const spec = out.spec as Record<string, unknown>;
    assert.deepEqual(spec.overhead, { cpu: '250m', memory: '120Mi' });
    assert.deepEqual(spec.nodeSelector, { zone: 'a', sandbox: 'gvisor' });
    assert.deepEqual(spec.tolerations, [{ key: 'x', operator: 'Exists' }, { key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('leaves pods without a runtime class alone', async () => {
    const out = await run(pod({}));
    assert.equal((out.spec as Record<string, unknown>).overhead, undefined);
  });

  it('refuses a missing class, conflicting selectors and foreign overheads in upstream words', async () => {
    assert.equal(await refusal(pod({ runtimeClassName: 'kata' })), 'pods "p" is forbidden: pod rejected: RuntimeClass "kata" not found');
    assert.match(await refusal(pod({ runtimeClassName: 'gvisor', nodeSelector: { sandbox: 'kata' } })), /conflict: runtimeClass.scheduling.nodeSelector\[sandbox\] = gvisor; pod.spec.nodeSelector\[sandbox\] = kata/);
    assert.match(await refusal(pod({ runtimeClassName: 'gvisor', overhead: { cpu: '1' } })), /Pod's Overhead doesn't match RuntimeClass's defined Overhead/);
    assert.match(await refusal(pod({ overhead: { cpu: '1' } })), /Overhead set without corresponding RuntimeClass/);
  });
});
