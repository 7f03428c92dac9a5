/**
 * End-to-end: the web console in a real browser (Debian's chromium driven by playwright-core) against a real
 * `skiff server` with simulated nodes, and, as root, its embedded node agent on the process runtime for logs and
 * exec. Signs in with a token from `kubectl create token`; checks that a rollout is visible live (the new
 * ReplicaSet's ready count changes on screen), that a Pending pod shows the scheduler's reason, that hostile text
 * (an `<img onerror>` in an image name, an event message and a log line) is shown as text and never becomes markup,
 * and that the page reconnects its watches after the server restarts. Screenshots go to the test's temp dir.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { defaultConsoleDir } from '../src/console/console-assets.js';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, stopChild, type ServerProcess } from './helpers/server-process.js';

// The functions given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any, window: any, MutationObserver: any;

const CHROMIUM = '/usr/bin/chromium';
const isRoot = process.getuid?.() === 0;
const CLUSTER_CIDR = '10.87.0.0/16';
/** Text that would become an element (and run script) if the console ever set it as HTML. */
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function prerequisites(): string | false {
  let reason: string | false = kubectlSkip();
  if (!reason && !existsSync(CHROMIUM)) reason = `${CHROMIUM} is missing (apt-get install chromium); skipping the console browser test`;
  if (!reason && !existsSync(join(defaultConsoleDir(), 'index.html'))) reason = 'the console is not built (npm run build:console); skipping';
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const skip = prerequisites();

describe('web console in chromium', { skip, timeout: 120_000 }, () => {
  /** The test's temp dir: the screenshots (kept), and the server's data dir in data/ (removed). */
  let dir: string;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let port = 0;
  let k: Kubectl;
  let token = '';
  let browser: Browser | undefined;
  let page: Page;
  const shots: string[] = [];
  const podUids = new Set<string>();
  const nodeName = `console-${process.pid}`;
  const withAgent = isRoot;

  const start = async (listenPort: number) => {
    const args = ['--data-dir', dataDir, '--https-listen-port', String(listenPort), '--bind-address', '127.0.0.1', '--simulate-nodes', '2'];
    if (withAgent) args.push('--node-name', nodeName, '--runtime', 'process', '--cluster-cidr', CLUSTER_CIDR, '--kubelet-port', '0', '--metric-resolution', '2s');
    const s = await spawnServer(args, 60_000, {}, { agent: withAgent });
    if (withAgent) await eventually('the embedded node is ready', async () => /skiff node ready/.test(s.output()) || (s.child.exitCode !== null ? Promise.reject(new Error(s.output())) : false), 60_000);
    return s;
  };
  const shot = async (name: string) => {
    const path = join(dir, `console-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  };
  /** Chromium reports ERR_NETWORK_CHANGED when another test adds an interface mid-load; such a load is retried. */
  const open = async (hash: string, on: Page = page) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await on.goto(`https://127.0.0.1:${port}/console/${hash}`);
        return;
      } catch (err) {
        if (attempt >= 2 || !/ERR_NETWORK_CHANGED/.test(String(err))) throw err;
      }
    }
  };
  const text = (testid: string) => page.textContent(`[data-testid="${testid}"]`, { timeout: 15_000 });
  const noMarkupInjected = async () => {
    const injected = await page.evaluate(() => ({ imgs: document.querySelectorAll('img').length, pwned: (window as unknown as { __pwned?: number }).__pwned }));
    assert.deepEqual(injected, { imgs: 0, pwned: undefined }, 'hostile text became markup');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-console-'));
    dataDir = join(dir, 'data');
    server = await start(0);
    port = server.port;
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    for (const args of [
      ['create', 'serviceaccount', 'console-viewer', '-n', 'kube-system'],
      ['create', 'clusterrolebinding', 'console-viewer', '--clusterrole=cluster-admin', '--serviceaccount=kube-system:console-viewer'],
    ]) {
      const r = await k(args);
      assert.equal(r.code, 0, r.stderr);
    }
    const t = await k(['create', 'token', 'console-viewer', '-n', 'kube-system']);
    assert.equal(t.code, 0, t.stderr);
    token = t.stdout.trim();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    if (server) await stopChild(server.child);
    if (shots.length) console.log(`console screenshots:\n  ${shots.join('\n  ')}`);
    if (withAgent) {
      const report = await hardCleanAgent({ dataDir, podUids });
      if (report.length) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    }
    // The screenshots stay for the reader; the data dir goes.
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a wrong token with the server\'s 401, then signs in with a token from kubectl create token', async () => {
    const started = performance.now();
    await open('');
    await page.fill('[data-testid=token]', 'not-a-token');
    await page.click('[data-testid=login]');
    assert.match((await text('login-error')) ?? '', /Unauthorized/);
    await page.fill('[data-testid=token]', token);
    await page.click('[data-testid=login]');
    assert.equal(await text('user'), 'system:serviceaccount:kube-system:console-viewer');
    const nodes = withAgent ? 3 : 2;
    await page.waitForFunction((n) => document.querySelector('[data-testid=overview-nodes]')?.textContent === `${n}/${n}`, nodes, { timeout: 20_000 });
    console.log(`overview shown ${Math.round(performance.now() - started)} ms after the first load (two sign-ins included)`);
    await shot('overview');
  });

  it('shows a Deployment rollout live: the new ReplicaSet fills while the old one drains', async () => {
    await applyFile(k, dataDir, 'web.yaml', `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {skiff.dev/simulated: "true"}
      containers: [{name: web, image: "nginx:1.27"}]
`);
    const avail = await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.equal(avail.code, 0, avail.stderr);
    await open('#/deployments/default/web');
    await page.waitForFunction(() => document.querySelector('[data-testid=deploy-available]')?.textContent === '3', undefined, { timeout: 15_000 });
    // Record what the page shows at every change, as a user watching it would see it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { rolloutSeen: string[] }).rolloutSeen = seen;
      const sample = () => {
        const rows = [...document.querySelectorAll('[data-testid=new-rs], [data-testid=old-rs]')].map((tr) => {
          const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent);
          return `${tr.getAttribute('data-testid')}:${cells[1]}/${cells[2]}/${cells[4]}`;
        });
        const line = rows.join(' ');
        if (seen[seen.length - 1] !== line) seen.push(line);
      };
      new MutationObserver(sample).observe(document.body, { subtree: true, childList: true, characterData: true });
      sample();
    });
    const set = await k(['set', 'image', 'deployment/web', 'web=nginx:1.28']);
    assert.equal(set.code, 0, set.stderr);
    await page.waitForFunction(() => /ReplicaSet .* has [12] of 3 ready/.test(document.querySelector('[data-testid=rollout-summary]')?.textContent ?? ''), undefined, { timeout: 30_000 });
    await shot('rollout-midway');
    await page.waitForFunction(() => document.querySelector('[data-testid=rollout-state]')?.textContent === 'Completed', undefined, { timeout: 45_000 });
    await shot('rollout-done');
    const seen = await page.evaluate(() => (window as unknown as { rolloutSeen: string[] }).rolloutSeen);
    // desired/current/ready of the new ReplicaSet as shown: it must have passed through partial states.
    const newReady = seen.map((l) => /new-rs:(\d+)\/(\d+)\/(\d+)/.exec(l)).filter((m) => m).map((m) => Number(m![3]));
    assert.ok(newReady.some((n) => n > 0 && n < 3), `the new ReplicaSet's ready count was never seen between 0 and 3: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((l) => /new-rs:\d+\/\d+\/\d+ old-rs:[1-3]\//.test(l)), `old and new ReplicaSets were never both shown with pods: ${JSON.stringify(seen)}`);
    assert.match(seen[seen.length - 1]!, /new-rs:3\/3\/3 old-rs:0\/0\/0/);
  });

  it('says why a pod is Pending (the scheduler\'s message, per node) and shows hostile text as text', async () => {
    await applyFile(k, dataDir, 'stuck.yaml', `apiVersion: v1
kind: Pod
metadata: {name: stuck, namespace: default}
spec:
  nodeSelector: {disk: none}
  containers: [{name: app, image: ${JSON.stringify(HOSTILE)}}]
`);
    const ev = await k(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'hostile.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'stuck', namespace: 'default' }, reason: 'Hostile', message: HOSTILE, type: 'Warning' }),
    });
    assert.equal(ev.code, 0, ev.stderr);
    await open('#/pods/default/stuck');
    await page.waitForSelector('[data-testid=why-pending]', { timeout: 20_000 });
    assert.match((await text('scheduler-message')) ?? '', /^0\/\d+ nodes are available: .*didn't match Pod's node affinity\/selector/);
    const nodes = withAgent ? 3 : 2;
    // The per-node table fills once the page's node and pod watches have listed.
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=node-fits] tr').length === n, nodes, { timeout: 15_000 });
    const fits = await page.$$eval('[data-testid=node-fits] tr', (rows) => rows.map((r) => r.textContent ?? ''));
    assert.equal(fits.length, nodes);
    for (const row of fits) assert.match(row, /didn't match Pod's node affinity\/selector \(disk=none\)/);
    await page.waitForFunction((h) => document.body.innerText.includes(h), HOSTILE, { timeout: 10_000 });
    const shownTwice = await page.evaluate((h) => document.body.innerText.split(h).length - 1, HOSTILE);
    assert.ok(shownTwice >= 2, 'the image name and the event message are both shown as text');
    await noMarkupInjected();
    await shot('pending');
  });

  it('says why a pod restarts (exit code) and streams its log and an exec session as text', { skip: withAgent ? false : 'needs root for the process runtime' }, async () => {
    await applyFile(k, dataDir, 'crash.yaml', `apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: default}
spec:
  nodeName: ${nodeName}
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", ${JSON.stringify(`echo '${HOSTILE}'; echo started; sleep 4; exit 3`)}]
`);
    const pod = await k.json(['get', 'pod', 'crash']);
    podUids.add(pod.metadata.uid);
    await open('#/pods/default/crash');
    await page.click('[data-testid=tab-logs]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=log]')?.textContent ?? '').includes('started'), undefined, { timeout: 30_000 });
    assert.ok(((await text('log')) ?? '').includes(HOSTILE));
    await noMarkupInjected();
    await page.click('[data-testid=tab-exec]');
    await page.fill('[data-testid=exec-command]', 'sh');
    await page.click('[data-testid=exec-connect]');
    await page.waitForFunction(() => document.querySelector('[data-testid=exec-state]')?.textContent === 'open', undefined, { timeout: 15_000 });
    await page.fill('[data-testid=exec-input]', 'echo exec-$((6*7))');
    await page.press('[data-testid=exec-input]', 'Enter');
    await page.waitForFunction(() => (document.querySelector('[data-testid=exec-output]')?.textContent ?? '').includes('exec-42'), undefined, { timeout: 15_000 });
    await shot('exec');
    await page.click('[data-testid=tab-status]');
    await page.waitForSelector('[data-testid=last-exit-app]', { timeout: 30_000 });
    assert.match((await text('last-exit-app')) ?? '', /Last exit code 3 \(Error\)/);
    assert.match((await text('why-restarting')) ?? '', /exited with code 3/);
    await shot('restarts');
  });

  it('shows a real node\'s usage from metrics.k8s.io', { skip: withAgent ? false : 'needs root for a real node' }, async () => {
    await eventually('metrics.k8s.io has the node', async () => (await k(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/nodes/${nodeName}`])).code === 0, 30_000);
    await open('#/nodes');
    const row = page.locator('[data-testid=nodes] tr', { hasText: nodeName });
    await row.waitFor({ timeout: 15_000 });
    // The CPU column: "<used> / <allocatable>", with a number once the node's metrics arrive.
    const cell = row.locator('td').nth(5);
    const cpu = await eventually('the CPU column shows usage', async () => {
      const t = (await cell.textContent()) ?? '';
      return /^(\d+m|\d+\.\d+) \/ \d+/.test(t) ? t : undefined;
    }, 15_000);
    assert.match(cpu, /^(\d+m|\d+\.\d+) \/ \d+/);
  });

  it('applies YAML server-side: each document\'s outcome or Status, conflicts refused until forced', async () => {
    await open('#/apply');
    await page.fill('[data-testid=apply-yaml]', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-console}\ndata: {greeting: hello}\n---\napiVersion: v1\nkind: Nope\nmetadata: {name: x}\n---\nkind: [unclosed\n');
    await page.click('[data-testid=apply]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=apply-results] li').length === 3, undefined, { timeout: 15_000 });
    const results = await page.$$eval('[data-testid=apply-results] li', (lis) => lis.map((li) => li.textContent ?? ''));
    assert.equal(results[0], 'ConfigMap/from-console applied');
    assert.match(results[1]!, /^Nope\/x: NotFound \(404\): no matches for kind "Nope" in version "v1"$/);
    assert.match(results[2]!, /^invalid YAML: /);
    const cm = await k.json(['get', 'configmap', 'from-console', '--show-managed-fields']);
    assert.equal(cm.data.greeting, 'hello');
    assert.deepEqual(cm.metadata.managedFields.map((f: { manager: string; operation: string }) => `${f.manager}/${f.operation}`), ['skiff-console/Apply']);

    // The Deployment's YAML tab: replicas belong to kubectl's manager, so a change conflicts until forced.
    await open('#/deployments/default/web');
    await page.click('[data-testid=tab-yaml]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=yaml]')?.value ?? '').includes('kind: Deployment'), undefined, { timeout: 15_000 });
    const yaml = await page.inputValue('[data-testid=yaml]');
    assert.ok(!yaml.includes('managedFields'), 'managedFields are left out of the view');
    await page.fill('[data-testid=yaml]', yaml.replace(/^  replicas: 3$/m, '  replicas: 2'));
    await page.click('[data-testid=yaml-apply]');
    await page.waitForFunction(() => /^Conflict \(409\): /.test(document.querySelector('[data-testid=yaml-message]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    assert.match((await text('yaml-message')) ?? '', /conflict with "kubectl[^"]*".*\.spec\.replicas/);
    await page.check('text=force conflicts');
    await page.click('[data-testid=yaml-apply]');
    await page.waitForFunction(() => document.querySelector('[data-testid=yaml-message]')?.textContent === 'Applied.', undefined, { timeout: 15_000 });
    assert.equal((await k.json(['get', 'deployment', 'web'])).spec.replicas, 2);
    await shot('yaml-applied');
    const back = await k(['scale', 'deployment/web', '--replicas=3']);
    assert.equal(back.code, 0, back.stderr);
  });

  it('tells a user without the right to list nodes that it is forbidden, in the server\'s words', async () => {
    for (const args of [
      ['create', 'serviceaccount', 'console-limited', '-n', 'default'],
      ['create', 'rolebinding', 'console-limited', '--clusterrole=view', '--serviceaccount=default:console-limited', '-n', 'default'],
    ]) {
      const r = await k(args);
      assert.equal(r.code, 0, r.stderr);
    }
    const limited = (await k(['create', 'token', 'console-limited', '-n', 'default'])).stdout.trim();
    await open('#/nodes');
    await page.click('text=Sign out');
    await page.fill('[data-testid=token]', limited);
    await page.click('[data-testid=login]');
    assert.equal(await text('user'), 'system:serviceaccount:default:console-limited');
    await page.waitForFunction(() => /^Not allowed: nodes is forbidden: User "system:serviceaccount:default:console-limited" cannot list resource "nodes"/.test(document.querySelector('[data-testid=watch-note]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await shot('forbidden');
    await page.click('text=Sign out');
    await page.fill('[data-testid=token]', token);
    await page.click('[data-testid=login]');
    assert.equal(await text('user'), 'system:serviceaccount:kube-system:console-viewer');
  });

  it('needs no token in a browser that holds the kubeconfig\'s client certificate', async () => {
    const ctx = await browser!.newContext({
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: `https://127.0.0.1:${port}`, certPath: join(dataDir, 'server/tls/client-admin.crt'), keyPath: join(dataDir, 'server/tls/client-admin.key') }],
    });
    try {
      const certPage = await ctx.newPage();
      await open('#/overview', certPage);
      assert.equal(await certPage.textContent('[data-testid=user]', { timeout: 15_000 }), 'system:admin');
      assert.equal(await certPage.$('[data-testid=token]'), null, 'no sign-in form');
      await certPage.waitForFunction(() => Number(document.querySelector('[data-testid=overview-pods]')?.textContent) > 0, undefined, { timeout: 15_000 });
    } finally {
      await ctx.close();
    }
  });

  it('reconnects its watches after the server restarts and shows changes made after it', async () => {
    await open('#/deployments/default/web');
    await page.waitForFunction(() => document.querySelector('[data-testid=deploy-desired]')?.textContent === '3', undefined, { timeout: 15_000 });
    await stopChild(server!.child);
    await page.waitForFunction(() => document.querySelector('[data-testid=connection]')?.textContent === 'reconnecting', undefined, { timeout: 15_000 });
    await shot('server-down');
    await sleep(500);
    server = await start(port);
    await page.waitForFunction(() => document.querySelector('[data-testid=connection]')?.textContent === 'live', undefined, { timeout: 30_000 });
    const scaled = await k(['scale', 'deployment/web', '--replicas=4']);
    assert.equal(scaled.code, 0, scaled.stderr);
    await page.waitForFunction(() => document.querySelector('[data-testid=deploy-desired]')?.textContent === '4', undefined, { timeout: 20_000 });
    const watches = await page.evaluate(() => (window as unknown as { skiffConsole: { watches(): { state: string; relists: number }[] } }).skiffConsole.watches());
    assert.ok(watches.length > 0 && watches.every((w) => w.state === 'live' && w.relists >= 2), `every watch relisted after the restart: ${JSON.stringify(watches)}`);
    await shot('after-restart');
  });
});
