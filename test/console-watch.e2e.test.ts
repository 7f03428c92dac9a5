/**
 * The console's list+watch against the protocol cases a real server rarely shows on demand, in chromium: a watch
 * answered with an ERROR event 410 Expired (history compacted) makes the page relist; a watch that ends normally is
 * resumed from the last resourceVersion seen, without a relist; a BOOKMARK moves that resourceVersion. The API is a
 * scripted stand-in on 127.0.0.1:0 that serves the real console build (ConsoleAssets) and records every request.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ConsoleAssets, defaultConsoleDir } from '../src/console/console-assets.js';
import { eventually } from './helpers/eventually.js';

declare const document: any;

const CHROMIUM = '/usr/bin/chromium';

function prerequisites(): string | false {
  let reason: string | false = false;
  if (!existsSync(CHROMIUM)) reason = `${CHROMIUM} is missing (apt-get install chromium); skipping`;
  else if (!existsSync(`${defaultConsoleDir()}/index.html`)) reason = 'the console is not built (npm run build:console); skipping';
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const pod = (name: string, rv: number, phase = 'Running') =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: String(rv), creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { containers: [{ name: 'app', image: 'x' }] }, status: { phase } });

describe('console list+watch protocol (chromium, scripted API)', { skip: prerequisites(), timeout: 60_000 }, () => {
  let server: http.Server;
  let browser: Browser | undefined;
  let page: Page;
  /** The pods list and watch requests, in order: `list` or `watch@<resourceVersion>`. */
  const requests: string[] = [];
  let openWatch: http.ServerResponse | undefined;
  let lists = 0;

  before(async () => {
    const assets = new ConsoleAssets();
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (code: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (ConsoleAssets.owns(url.pathname)) return assets.serve(req, res, url.pathname);
      if (url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') return json(201, { status: { userInfo: { username: 'scripted' } } });
      const watching = url.searchParams.get('watch') === '1';
      if (url.pathname !== '/api/v1/pods') {
        if (!watching) return json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.flushHeaders();
      }
      if (!watching) {
        lists++;
        requests.push('list');
        // The first list is at revision 10 with one pod; the relist after 410 at 20 with two.
        return lists === 1
          ? json(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: [pod('a', 5)] })
          : json(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '20' }, items: [pod('a', 5), pod('b', 18)] });
      }
      const rv = url.searchParams.get('resourceVersion');
      requests.push(`watch@${rv}`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (rv === '10') {
        // kube-apiserver's answer to a watch from a compacted revision.
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 10 (15)', reason: 'Expired', code: 410 } })}\n`);
        return;
      }
      if (rv === '20') {
        // One change and a bookmark, then the watch ends as a server's timeout ends it.
        res.write(`${JSON.stringify({ type: 'MODIFIED', object: pod('b', 21, 'Failed') })}\n`);
        res.end(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '25' } } })}\n`);
        return;
      }
      res.flushHeaders();
      openWatch = res;
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await (await browser.newContext()).newPage();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    openWatch?.destroy();
    server?.closeAllConnections();
    server?.close();
  });

  it('relists after 410 Expired, resumes an ended watch from the bookmark\'s resourceVersion without relisting', async () => {
    // Chromium reports ERR_NETWORK_CHANGED when another test adds an interface mid-load; such a load is retried.
    for (let attempt = 0; ; attempt++) {
      try {
        await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/console/#/pods`);
        break;
      } catch (err) {
        if (attempt >= 2 || !/ERR_NETWORK_CHANGED/.test(String(err))) throw err;
      }
    }
    await page.waitForFunction(() => document.querySelector('[data-testid="pod-status-b"]')?.textContent === 'Failed', undefined, { timeout: 20_000 });
    await eventually('the watch resumed at the bookmark', async () => requests.includes('watch@25'), 10_000);
    assert.deepEqual(requests.slice(0, 5), ['list', 'watch@10', 'list', 'watch@20', 'watch@25']);
    // The page shows both pods from the relist and the change from the resumed watch.
    assert.equal(await page.textContent('[data-testid=pod-count]'), ' 2 pods');
    openWatch!.write(`${JSON.stringify({ type: 'DELETED', object: pod('a', 26) })}\n`);
    await page.waitForFunction(() => document.querySelector('[data-testid=pod-count]')?.textContent === ' 1 pods', undefined, { timeout: 10_000 });
    assert.equal(lists, 2, 'no relist besides the one after 410');
  });
});
