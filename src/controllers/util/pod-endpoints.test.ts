import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StaticInformer } from '../../client/testing/static-informer.js';
import { servicesToUpdateOnPodChange, type Pod, type Service } from './pod-endpoints.js';

function service(name: string, selector: Record<string, string>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec: { selector } };
}

function pod(rv: string, labels: Record<string, string>, ready: boolean): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', resourceVersion: rv, labels },
    status: { podIP: '10.42.0.5', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

describe('servicesToUpdateOnPodChange', () => {
  const services = new StaticInformer<Service>();
  services.add(service('blue', { app: 'blue' }));
  services.add(service('green', { app: 'green' }));
  services.add(service('all', { tier: 'web' }));

  it('a status heartbeat that changes nothing endpoints show updates no service', () => {
    assert.deepEqual(servicesToUpdateOnPodChange(services.lister, pod('1', { app: 'blue' }, true), pod('2', { app: 'blue' }, true)), []);
  });

  it('a readiness change updates the services selecting the pod', () => {
    assert.deepEqual(servicesToUpdateOnPodChange(services.lister, pod('1', { app: 'blue' }, false), pod('2', { app: 'blue' }, true)), ['ns/blue']);
  });

  it('a label change also updates the services that selected the pod before, each once', () => {
    const keys = servicesToUpdateOnPodChange(services.lister, pod('1', { app: 'blue', tier: 'web' }, true), pod('2', { app: 'green', tier: 'web' }, true));
    assert.deepEqual(keys.sort(), ['ns/all', 'ns/blue', 'ns/green']);
  });
});
