import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { forbidden, StatusError } from '../../api/status.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Pods } from '../../client/resources.js';
import { newControllerRef } from './owner-references.js';
import { createPodFor, deletePodFor, podFromTemplate } from './pod-control.js';

const owner: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'ns', uid: 'u1' } };
const ref = newControllerRef(owner, 'apps/v1', 'ReplicaSet');

describe('podFromTemplate', () => {
  it('copies labels, annotations, finalizers and spec, and adds generateName and the controller reference', () => {
    const template = {
      metadata: { labels: { app: 'web' }, annotations: { a: 'b' }, finalizers: ['f'] },
      spec: { containers: [{ name: 'c', image: 'nginx' }] },
    };
    const pod = podFromTemplate(template, 'ns', 'web-', ref);
    assert.deepEqual(pod, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        namespace: 'ns',
        generateName: 'web-',
        labels: { app: 'web' },
        annotations: { a: 'b' },
        finalizers: ['f'],
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }],
      },
      spec: { containers: [{ name: 'c', image: 'nginx' }] },
    });
    pod.spec!.containers[0]!.image = 'changed';
    assert.equal(template.spec.containers[0]!.image, 'nginx', 'the template is not shared with the pod');
  });

  it('leaves out empty annotations and finalizers, and generateName when the caller names the pod', () => {
    const pod = podFromTemplate({ metadata: { labels: { app: 'web' }, annotations: {}, finalizers: [] } }, 'ns', '', ref);
    assert.deepEqual(Object.keys(pod.metadata).sort(), ['labels', 'namespace', 'ownerReferences']);
  });
});

describe('createPodFor / deletePodFor', () => {
  const newPod = (labels: Record<string, string> = { app: 'web' }): Pod => podFromTemplate({ metadata: { labels }, spec: { containers: [] } }, 'ns', 'web-', ref);

  it('records SuccessfulCreate with the generated name', async () => {
    const client = new FakeClient();
    const recorder = new FakeRecorder();
    const created = await createPodFor(client, recorder, owner, newPod());
    assert.match(created.metadata?.name ?? '', /^web-[a-z0-9]{5}$/);
    assert.deepEqual(recorder.lines(), [`Normal SuccessfulCreate Created pod: ${created.metadata?.name}`]);
  });

  it('refuses a pod without labels before sending it', async () => {
    const client = new FakeClient();
    await assert.rejects(createPodFor(client, new FakeRecorder(), owner, newPod({})), /unable to create pods, no labels/);
    assert.equal(client.actions.length, 0);
  });

  it('records FailedCreate on a refused create, but nothing when the namespace is terminating', async () => {
    const client = new FakeClient();
    const recorder = new FakeRecorder();
    client.prependReactor('create', 'pods', () => {
      throw forbidden('pods "x" is forbidden: exceeded quota');
    });
    await assert.rejects(createPodFor(client, recorder, owner, newPod()), /exceeded quota/);
    assert.deepEqual(recorder.lines(), ['Warning FailedCreate Error creating: pods "x" is forbidden: exceeded quota']);

    const terminating = new FakeClient();
    const quiet = new FakeRecorder();
    terminating.prependReactor('create', 'pods', () => {
      throw new StatusError({ code: 403, reason: 'Forbidden', message: 'namespace ns is being terminated', details: { causes: [{ reason: 'NamespaceTerminating' }] } });
    });
    await assert.rejects(createPodFor(terminating, quiet, owner, newPod()), /being terminated/);
    assert.deepEqual(quiet.lines(), []);
  });

  it('deletes with SuccessfulDelete; a pod already gone resolves false without an event', async () => {
    const client = new FakeClient();
    const recorder = new FakeRecorder();
    client.seed(Pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'ns' } });
    assert.equal(await deletePodFor(client, recorder, owner, { metadata: { name: 'web-1', namespace: 'ns' } }), true);
    assert.equal(await deletePodFor(client, recorder, owner, { metadata: { name: 'web-1', namespace: 'ns' } }), false);
    assert.deepEqual(recorder.lines(), ['Normal SuccessfulDelete Deleted pod: web-1']);
  });

  it('a failed delete records FailedDelete and rejects with upstream\'s message, keeping the API error as cause', async () => {
    const client = new FakeClient();
    const recorder = new FakeRecorder();
    const apiErr = forbidden('pods "web-1" is forbidden');
    client.prependReactor('delete', 'pods', () => {
      throw apiErr;
    });
    const err = await deletePodFor(client, recorder, owner, { metadata: { name: 'web-1', namespace: 'ns' } }).then(
      () => assert.fail('resolved'),
      (e: Error) => e,
    );
    assert.equal(err.message, 'unable to delete pods: pods "web-1" is forbidden');
    assert.equal(err.cause, apiErr);
    assert.deepEqual(recorder.lines(), ['Warning FailedDelete Error deleting: pods "web-1" is forbidden']);
  });
});
