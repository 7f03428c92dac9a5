import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { isStatusError, type StatusError } from '../../api/status.js';
import { logLocation, nodeAddress, nodeProxyLocation, podNodeName, portForwardLocation, resolveContainer, streamLocation } from './locations.js';

const pod = (containers: string[], init: string[] = [], nodeName = 'n1'): Pod => ({
  metadata: { name: 'web', namespace: 'default' },
  spec: { nodeName, containers: containers.map((name) => ({ name })), initContainers: init.map((name) => ({ name })) },
});

function statusOf(fn: () => unknown): { code?: number; reason?: string; message?: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isStatusError(err), String(err));
    const s = (err as StatusError).status;
    return { code: s.code, reason: s.reason, message: s.message };
  }
  assert.fail('no error');
}

describe('node address', () => {
  it('prefers InternalIP, then Hostname; the kubelet port from daemonEndpoints (10250 when 0)', () => {
    const node = (addresses: Array<{ type: string; address: string }>, port = 0): Node => ({ status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
    assert.deepEqual(nodeAddress(node([{ type: 'Hostname', address: 'h' }, { type: 'InternalIP', address: '10.0.0.5' }], 4444)), { host: '10.0.0.5', port: 4444 });
    assert.deepEqual(nodeAddress(node([{ type: 'Hostname', address: 'h' }])), { host: 'h', port: 10250 });
    assert.deepEqual(statusOf(() => nodeAddress(node([]))), { code: 503, reason: 'ServiceUnavailable', message: 'no preferred addresses found; known addresses: []' });
  });
  it('refuses a pod without a node in upstream words', () => {
    assert.deepEqual(statusOf(() => podNodeName(pod(['a'], [], ''))), { code: 400, reason: 'BadRequest', message: 'pod web does not have a host assigned' });
  });
});

describe('container resolution (validateContainer)', () => {
  it('takes the only container, or the named one', () => {
    assert.equal(resolveContainer(pod(['a']), null), 'a');
    assert.equal(resolveContainer(pod(['a', 'b'], ['i']), 'i'), 'i');
  });
  it('asks for a name when there are several', () => {
    assert.equal(statusOf(() => resolveContainer(pod(['a', 'b'], ['i']), null)).message, 'a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [i]');
    assert.equal(statusOf(() => resolveContainer(pod(['a']), 'z')).message, 'container z is not valid for pod web');
  });
});

describe('agent locations', () => {
  it('exec: kubelet parameters input/output/error/tty=1 and repeated command', () => {
    const q = new URLSearchParams('command=sh&command=-c&command=echo hi&container=a&stdin=true&stdout=true&stderr=true&tty=false');
    assert.equal(streamLocation('exec', pod(['a']), q).path, '/exec/default/web/a?input=1&output=1&error=1&command=sh&command=-c&command=echo+hi');
    assert.equal(statusOf(() => streamLocation('attach', pod(['a']), new URLSearchParams('stdin=false'))).message, 'you must specify at least 1 of stdin, stdout, stderr');
    assert.equal(statusOf(() => streamLocation('exec', pod(['a']), new URLSearchParams('stdout=maybe'))).code, 400);
  });
  it('logs: PodLogOptions in upstream order, validated', () => {
    const q = new URLSearchParams('container=a&follow=true&tailLines=2&timestamps=true&limitBytes=100&sinceTime=2024-05-01T10:00:00.123Z&pretty=true');
    assert.equal(logLocation(pod(['a', 'b']), q).path, '/containerLogs/default/web/a?follow=true&timestamps=true&sinceTime=2024-05-01T10%3A00%3A00Z&tailLines=2&limitBytes=100');
    const bad = statusOf(() => logLocation(pod(['a']), new URLSearchParams('tailLines=-1&limitBytes=0')));
    assert.equal(bad.code, 422);
    assert.equal(bad.message, 'PodLogOptions "web" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]');
  });
  it('port-forward: ports become kubelet port parameters', () => {
    assert.equal(portForwardLocation(pod(['a']), new URLSearchParams('ports=8080,9090&ports=80')).path, '/portForward/default/web?port=8080&port=9090&port=80');
    assert.equal(portForwardLocation(pod(['a']), new URLSearchParams('')).path, '/portForward/default/web');
    assert.equal(statusOf(() => portForwardLocation(pod(['a']), new URLSearchParams('ports=0'))).code, 400);
  });
  it('nodes/proxy: the rest of the path and the query', () => {
    assert.equal(nodeProxyLocation(['stats', 'summary'], new URLSearchParams('only_cpu_and_memory=true')).path, '/stats/summary?only_cpu_and_memory=true');
  });
});
