/**
 * The kubelet against a real API server (in-process transport, real request pipeline, store and graceful deletion),
 * with the real SharedInformerFactory and event recorder, and the fake runtime: what kubectl would see.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../../test/helpers/test-server.js';
import { ApiEventRecorder } from '../../client/event-recorder.js';
import { SharedInformerFactory } from '../../client/informer.js';
import { Events, Pods } from '../../client/resources.js';
import { RestClient } from '../../client/rest-client.js';
import { isNotFound } from '../../api/status.js';
import { Kubelet } from './kubelet.js';
import type { Pod } from './objects.js';
import { FakeProbeManager } from './testing/fake-probe-manager.js';
import { FakeRuntime } from './testing/fake-runtime.js';
import { FakeVolumeManager } from './testing/fake-volume-manager.js';

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Kubelet against a real API server', () => {
  let server: TestServer;
  let client: RestClient;
  let informers: SharedInformerFactory;
  let kubelet: Kubelet;
  let dir: string;
  const runtime = new FakeRuntime();

  before(async () => {
    server = await startTestServer({ datastore: 'memory', controlPlane: false });
    client = new RestClient(server.running.api.inProcessTransport());
    informers = new SharedInformerFactory(client);
    dir = await mkdtemp(join(tmpdir(), 'skiff-kubelet-server-'));
    kubelet = new Kubelet({
      nodeName: 'node-a',
      client,
      informers,
      runtime,
      volumes: new FakeVolumeManager(),
      probes: (events) => new FakeProbeManager(events),
      recorder: new ApiEventRecorder(client, 'kubelet', { host: 'node-a' }),
      logRoot: join(dir, 'logs'),
      podsDir: join(dir, 'pods'),
      nodeIPs: ['192.168.7.7'],
      relistIntervalMs: 50,
    });
    await kubelet.start();
  });

  after(async () => {
    await kubelet.stop();
    informers.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a pod to Running, then deletes it gracefully: preStop, stop with the grace period, object gone', async () => {
    const created = await client.create<Pod>(Pods, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        nodeName: 'node-a',
        terminationGracePeriodSeconds: 7,
        containers: [{ name: 'app', image: 'node', command: ['node', '-e', 'setInterval(() => {}, 1000)'], lifecycle: { preStop: { exec: { command: ['kill', '-TERM', '1'] } } } }],
      },
    } as Pod);
    const running = await eventually('Running', async () => {
      const p = await client.get<Pod>(Pods, 'default', 'web');
      return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    assert.equal(running.status!.podIP, '10.42.0.2');
    assert.equal(running.status!.hostIP, '192.168.7.7');
    assert.match(running.status!.containerStatuses![0]!.containerID!, /^process:\/\/ctr-/);
    await eventually('Started event', async () => {
      const events = await client.list<{ metadata: { name: string }; reason?: string; involvedObject?: { uid?: string } }>(Events, 'default');
      return events.items.some((e) => e.reason === 'Started' && e.involvedObject?.uid === created.metadata.uid) ? true : undefined;
    });

    await client.delete(Pods, 'default', 'web');
    await eventually('pod deleted', async () => {
      try {
        await client.get(Pods, 'default', 'web');
        return undefined;
      } catch (err) {
        return isNotFound(err) ? true : undefined;
      }
    });
    assert.ok(runtime.calls.includes('execSync web/app#0 kill -TERM 1'), 'preStop ran');
    assert.ok(runtime.calls.includes('stopContainer web/app#0 7s'), 'stopped with the grace period');
    assert.equal(runtime.sandboxesOf(created.metadata.uid!).length, 0);
  });
});
