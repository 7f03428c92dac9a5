/**
 * End-to-end: `kubectl drain` against PodDisruptionBudgets, with the real kubectl on simulated nodes. The disruption
 * controller keeps the budgets' status (what `kubectl get pdb` shows as ALLOWED DISRUPTIONS); drain cordons the node
 * and evicts its pods through `pods/eviction`, which spends that budget or answers 429, and drain retries 429s until
 * its --timeout. Assertions are on JSON output and on kubectl's own messages.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

const deployment = (name: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: main, image: "nginx:1.27"}]
`;

const budget = (name: string, rule: string) => `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ${name}}
spec:
  ${rule}
  selector: {matchLabels: {app: ${name}}}
`;

const BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";

describe('kubectl drain with PodDisruptionBudgets (simulated nodes)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;
  /** Whether the API server serves pods/eviction; without it kubectl drain falls back to plain deletes. */
  let evictionServed = false;

  before(async () => {
    s = await startTestServer({ simulateNodes: 3 });
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-drain-'));
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
    const core = await s.request('GET', '/api/v1');
    evictionServed = (core.json?.resources ?? []).some((r: { name: string }) => r.name === 'pods/eviction');
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apply = (name: string, yaml: string) => applyFile(k, dir, name, yaml);
  const podsOf = async (app: string) => (await k.json(['get', 'pods', '-l', `app=${app}`])).items as any[];
  const isReady = (p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !p.metadata.deletionTimestamp;
  const pdbStatus = async (name: string) => (await k.json(['get', 'pdb', name])).status ?? {};

  it('the disruption controller keeps the budget status that kubectl get pdb shows', async () => {
    await apply('web.yaml', deployment('web', 4));
    await apply('web-pdb.yaml', budget('web', 'maxUnavailable: 1'));
    const w = await k(['wait', '--for=condition=Available', 'deployment/web', '--timeout=30s']);
    assert.equal(w.code, 0, w.stderr);
    const status = await eventually('the web budget to count 4 healthy pods', async () => {
      const st = await pdbStatus('web');
      return st.currentHealthy === 4 && st.disruptionsAllowed === 1 ? st : undefined;
    });
    assert.deepEqual(
      { expectedPods: status.expectedPods, desiredHealthy: status.desiredHealthy, currentHealthy: status.currentHealthy, disruptionsAllowed: status.disruptionsAllowed, observedGeneration: status.observedGeneration },
      { expectedPods: 4, desiredHealthy: 3, currentHealthy: 4, disruptionsAllowed: 1, observedGeneration: 1 },
    );
    const cond = status.conditions.find((c: any) => c.type === 'DisruptionAllowed');
    assert.deepEqual([cond.status, cond.reason], ['True', 'SufficientPods']);

    // The table kubectl prints by default: ALLOWED DISRUPTIONS is the controller's number.
    const table = await k(['get', 'pdb', 'web']);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(row!.slice(0, 4), ['web', 'N/A', '1', '1'], `${header!.join('|')}\n${row!.join('|')}`);
    assert.equal(header![3], 'ALLOWED DISRUPTIONS');

    // A spec change bumps the generation; the controller catches up with it.
    await apply('web-pdb.yaml', budget('web', 'minAvailable: 4'));
    const tight = await eventually('the web budget to follow minAvailable 4', async () => {
      const st = await pdbStatus('web');
      return st.observedGeneration === 2 ? st : undefined;
    });
    assert.deepEqual([tight.desiredHealthy, tight.disruptionsAllowed], [4, 0]);
    assert.deepEqual(
      tight.conditions.filter((c: any) => c.type === 'DisruptionAllowed').map((c: any) => [c.status, c.reason]),
      [['False', 'InsufficientPods']],
    );
    await apply('web-pdb.yaml', budget('web', 'maxUnavailable: 1'));
    await eventually('the web budget to allow one disruption again', async () => (await pdbStatus('web')).disruptionsAllowed === 1);
  });

  it('drain cordons the node and evicts its pods; they come back elsewhere within the budget', async (t) => {
    if (!evictionServed) return t.skip('pods/eviction is not served yet: kubectl drain would fall back to deletes, which bypass budgets');
    const node = (await podsOf('web'))[0].spec.nodeName as string;
    const onNode = (await podsOf('web')).filter((p) => p.spec.nodeName === node).map((p) => p.metadata.name).sort();
    const r = await k(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`node/${node} cordoned`));
    for (const name of onNode) assert.match(r.stdout, new RegExp(`pod/${name} evicted`));
    assert.match(r.stdout, new RegExp(`node/${node} drained`));

    const n = await k.json(['get', 'node', node]);
    assert.equal(n.spec.unschedulable, true);
    const pods = await eventually('4 ready web pods, none on the drained node', async () => {
      const ps = (await podsOf('web')).filter(isReady);
      return ps.length === 4 && ps.every((p) => p.spec.nodeName !== node) ? ps : undefined;
    });
    assert.ok(pods.every((p) => !onNode.includes(p.metadata.name)), 'the evicted pods were replaced, not kept');
    await eventually('the budget to count the replacements', async () => (await pdbStatus('web')).currentHealthy === 4);

    const u = await k(['uncordon', node]);
    assert.equal(u.code, 0, u.stderr);
  });

  it('a budget that allows no disruption makes drain retry and fail at --timeout with the budget message', async (t) => {
    if (!evictionServed) return t.skip('pods/eviction is not served yet: kubectl drain would fall back to deletes, which bypass budgets');
    await apply('db.yaml', deployment('db', 2));
    await apply('db-pdb.yaml', budget('db', 'maxUnavailable: 0'));
    const w = await k(['wait', '--for=condition=Available', 'deployment/db', '--timeout=30s']);
    assert.equal(w.code, 0, w.stderr);
    await eventually('the db budget to be computed', async () => (await pdbStatus('db')).currentHealthy === 2);
    const st = await pdbStatus('db');
    assert.equal(st.disruptionsAllowed, 0);

    const pinned = (await podsOf('db'))[0];
    const node = pinned.spec.nodeName as string;
    const r = await k(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=8s'], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, 'drain fails when the budget never allows the eviction');
    assert.ok(r.stderr.includes(BUDGET_MESSAGE), r.stderr);
    assert.match(r.stderr, /will retry after 5s/, 'drain retried the 429');
    assert.match(r.stderr, /global timeout reached: 8s/);

    const still = await k.json(['get', 'pod', pinned.metadata.name]);
    assert.equal(still.metadata.deletionTimestamp, undefined, 'the protected pod was not deleted');
    assert.equal(still.spec.nodeName, node);
    assert.equal((await k.json(['get', 'node', node])).spec.unschedulable, true, 'the node stays cordoned');

    // The same refusal through the API directly: 429 with the DisruptionBudget cause.
    const res = await s.request('POST', `/api/v1/namespaces/default/pods/${pinned.metadata.name}/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: pinned.metadata.name, namespace: 'default' },
    });
    assert.equal(res.status, 429, res.text);
    assert.equal(res.json.reason, 'TooManyRequests');
    assert.equal(res.json.message, BUDGET_MESSAGE);
    assert.deepEqual(res.json.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget db needs 2 healthy pods and has 2 currently' }]);
    await k(['uncordon', node]);
  });
});
