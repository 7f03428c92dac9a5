/**
 * `skiff agent --simulate N --kubeconfig FILE` registers simulated nodes with the kubeconfig's identity (kwok-style; a
 * joined node's certificate may write only its own Node), and `skiff agent` refuses a server whose CA does not match
 * the token before sending it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { SKIFF_BIN, waitExit } from './helpers/server-process.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

describe('skiff agent', () => {
  let s: TestServer;
  let token: string;
  let agentDir: string;
  before(async () => {
    s = await startTestServer();
    token = (await readFile(`${s.dataDir}/server/token`, 'utf8')).trim();
    agentDir = await mkdtemp(join(tmpdir(), 'skiff-agent-'));
  });
  after(async () => {
    await s?.stop();
    await rm(agentDir, { recursive: true, force: true });
  });

  it('registers simulated nodes that run pods scheduled onto them', async () => {
    assert.match(token, /^K10[0-9a-f]{64}::server:/, 'the server stores the K10 form');
    const child = spawn(process.execPath, [SKIFF_BIN, 'agent', '--kubeconfig', s.kubeconfig, '--simulate', '2', '--node-name', 'edge', '--data-dir', agentDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    try {
      await eventually('the agent ready line', async () => /skiff agent ready: 2 simulated nodes/.test(out), 20_000);
      const nodes = await s.request('GET', '/api/v1/nodes');
      const names = nodes.json.items.map((n: any) => n.metadata.name).sort();
      assert.deepEqual(names, ['edge-sim-0', 'edge-sim-1']);
      // No join: no node certificate was asked for.
      await assert.rejects(readFile(join(agentDir, 'agent', 'client-kubelet.crt')), /ENOENT/);
      const pod = await s.request('POST', '/api/v1/namespaces/default/pods', {
        metadata: { name: 'on-edge' },
        spec: { nodeSelector: { 'kubernetes.io/hostname': 'edge-sim-1' }, containers: [{ name: 'c', image: 'busybox' }] },
      });
      assert.equal(pod.status, 201, pod.text);
      const running = await eventually('the pod Running on edge-sim-1', async () => {
        const p = await s.request('GET', '/api/v1/namespaces/default/pods/on-edge');
        return p.json.status?.phase === 'Running' ? p.json : undefined;
      }, 20_000);
      assert.equal(running.spec.nodeName, 'edge-sim-1');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await waitExit(child), 0, out);
    }
  });

  it('refuses a server whose CA does not match the token', async () => {
    // Asynchronously: the server runs in this process and must keep answering while the agent talks to it.
    const forged = token.replace(/^K10([0-9a-f])/, (_m, c) => `K10${c === '0' ? '1' : '0'}`);
    // Joining comes first: the agent stops there, before any runtime starts.
    const child = spawn(process.execPath, [SKIFF_BIN, 'agent', '--server', s.url, '--token', forged, '--data-dir', agentDir, '--node-name', 'forged'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    assert.equal(await waitExit(child), 1);
    assert.match(err, /does not match the token's CA hash/);
  });

  it('explains missing flags', () => {
    const r = spawnSync(process.execPath, [SKIFF_BIN, 'agent', '--server', s.url], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--token/);
  });
});
