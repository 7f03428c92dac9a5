/** End-to-end: a simulated node stops its heartbeats; the node lifecycle controller and the workloads react (kubectl). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { eventually } from './helpers/eventually.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

describe('node failure end-to-end (kubectl, simulated nodes, short grace periods)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  before(async () => {
    s = await startTestServer({ simulateNodes: 3, nodeMonitorGracePeriodMs: 3000, defaultTolerationSeconds: 2 });
    k = kubectlFor(s.kubeconfig);
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
  });
  after(async () => {
    await s?.stop();
  });

  it('a node whose heartbeat stops turns NotReady, and its pods come back on other nodes', async () => {
    assert.equal((await k(['create', 'deployment', 'spread', '--image=busybox', '--replicas=6'])).code, 0);
    assert.equal((await k(['wait', '--for=condition=Available', 'deployment/spread', '--timeout=30s'])).code, 0);
    const before = (await k.json(['get', 'pods', '-l', 'app=spread'])).items as any[];
    const victim = before[0].spec.nodeName as string;
    const onVictim = before.filter((p) => p.spec.nodeName === victim).map((p) => p.metadata.name);
    assert.ok(onVictim.length > 0);
    assert.equal((await k(['annotate', 'node', victim, 'skiff.dev/heartbeat=stopped'])).code, 0);
    await eventually('the node NotReady (Unknown) with the unreachable taint', async () => {
      const n = await k.json(['get', 'node', victim]);
      const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
      return ready.status === 'Unknown' && n.spec.taints?.some((t: any) => t.key === 'node.kubernetes.io/unreachable');
    }, 20_000);
    const table = await k(['get', 'node', victim]);
    assert.match(table.stdout, /NotReady/);
    await eventually('6 running pods, none on the failed node', async () => {
      const ps = ((await k.json(['get', 'pods', '-l', 'app=spread'])).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
      return ps.length === 6 && ps.every((p) => p.status.phase === 'Running' && p.spec.nodeName !== victim);
    }, 30_000);
    assert.equal((await k(['annotate', 'node', victim, 'skiff.dev/heartbeat-'])).code, 0);
    await eventually('the node Ready again without taints', async () => {
      const n = await k.json(['get', 'node', victim]);
      const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
      return ready.status === 'True' && !(n.spec.taints ?? []).some((t: any) => t.key.startsWith('node.kubernetes.io/'));
    }, 20_000);
  });
});
