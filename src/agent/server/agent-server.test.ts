/**
 * The agent's HTTPS API on a real socket: who may call it, kubelet's paths and refusals, and the channel protocols
 * spoken directly (v4 and base64, which kubectl does not use but other clients do).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ensurePki, type Pki } from '../../apiserver/auth/pki.js';
import { AgentServer } from './agent-server.js';
import { HostProcessBackend } from './host-process-backend.js';

interface Reply {
  status: number;
  text: string;
}

describe('AgentServer', () => {
  let dir: string;
  let pki: Pki;
  let otherPki: Pki;
  let backend: HostProcessBackend;
  let agent: AgentServer;
  let strict: AgentServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-agent-server-'));
    pki = await ensurePki(join(dir, 'a'));
    otherPki = await ensurePki(join(dir, 'b'));
    backend = new HostProcessBackend({ dir: join(dir, 'pods'), statsSummary: () => ({ node: { nodeName: 'n1' }, pods: [] }) });
    await backend.addPod({
      metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
      spec: { containers: [{ name: 'c', image: 'x', command: ['sh', '-c', 'echo first; echo second; exec sleep 3600'] }] },
    });
    const tls = { ca: pki.caCertPem, cert: pki.servingCertPem, key: pki.servingKeyPem };
    agent = new AgentServer({ backend, tls, host: '127.0.0.1', port: 0 });
    await agent.start();
    // Only a user nobody has: the admin certificate is then authenticated but not authorized.
    strict = new AgentServer({ backend, tls, host: '127.0.0.1', port: 0, authorization: { users: ['system:kube-apiserver'], groups: [] } });
    await strict.start();
  });
  after(async () => {
    await agent?.close();
    await strict?.close();
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function get(path: string, opts: { port?: number; cert?: 'admin' | 'none' | 'foreign'; method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const cert = opts.cert ?? 'admin';
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: opts.port ?? agent.port,
          path,
          method: opts.method ?? 'GET',
          ca: pki.caCertPem,
          ...(cert === 'admin' ? { cert: pki.adminCertPem, key: pki.adminKeyPem } : cert === 'foreign' ? { cert: otherPki.adminCertPem, key: otherPki.adminKeyPem } : {}),
          headers: opts.headers,
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('answers 401 without a certificate or with one from another CA, 403 to an identity not allowed', async () => {
    assert.deepEqual(await get('/healthz', { cert: 'none' }), { status: 401, text: 'Unauthorized\n' });
    assert.deepEqual(await get('/healthz', { cert: 'foreign' }), { status: 401, text: 'Unauthorized\n' });
    assert.deepEqual(await get('/pods', { port: strict.port }), { status: 403, text: 'Forbidden (user=system:admin, verb=get, resource=nodes, subresource=proxy)\n' });
    assert.equal((await get('/stats/summary', { port: strict.port })).text, 'Forbidden (user=system:admin, verb=get, resource=nodes, subresource=stats)\n');
    assert.equal((await get('/healthz')).text, 'ok');
  });

  it('serves /pods and /stats/summary', async () => {
    const pods = JSON.parse((await get('/pods')).text);
    assert.equal(pods.kind, 'PodList');
    assert.deepEqual(
      pods.items.map((p: { metadata: { name: string } }) => p.metadata.name),
      ['p'],
    );
    assert.deepEqual(JSON.parse((await get('/stats/summary')).text), { node: { nodeName: 'n1' }, pods: [] });
  });

  it('serves container logs with kubelet query semantics and refusals', async () => {
    assert.deepEqual(await get('/containerLogs/ns/p/c'), { status: 200, text: 'first\nsecond\n' });
    assert.deepEqual(await get('/containerLogs/ns/p/c?tailLines=1'), { status: 200, text: 'second\n' });
    assert.deepEqual(await get('/containerLogs/ns/p/c?limitBytes=3'), { status: 200, text: 'fir' });
    assert.equal((await get('/containerLogs/ns/nope/c')).status, 404);
    assert.deepEqual(await get('/containerLogs/ns/p/x'), { status: 404, text: 'container "x" not found in pod "p"\n' });
    assert.equal((await get('/containerLogs/ns/p/c?tailLines=abc')).status, 400);
    assert.equal((await get('/containerLogs/ns/p/c?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z')).status, 400);
    assert.equal((await get('/containerLogs/ns/p/c?previous=true')).status, 400);
  });

  it('refuses streaming requests that cannot stream', async () => {
    assert.deepEqual(await get('/exec/ns/p/c?command=true&output=1'), { status: 400, text: 'Upgrade request required\n' });
    assert.equal((await get('/exec/ns/p/c?command=true')).text, 'you must specify at least 1 of stdin, stdout, stderr\n');
    assert.equal((await get('/exec/ns/p/u-other/c?command=true&output=1')).status, 404, 'the uid form checks the uid');
    assert.equal((await get('/exec/ns/p/zz?command=true&output=1')).status, 404);
    const spdy = await get('/exec/ns/p/c?command=true&output=1', {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v9.channel.k8s.io' },
    });
    assert.equal(spdy.status, 403);
    assert.match(spdy.text, /unable to negotiate protocol: client supports \[v9.channel.k8s.io\]/);
    assert.equal((await get('/nope')).status, 404);
  });

  it('answers 400 to a path with a malformed escape (found by test/agent-api-fuzz.test.ts: it was a 500)', async () => {
    for (const path of ['/exec/ns/p/c/%ZZ?command=true&output=1', '/%', '/containerLogs/ns/p/%E0%A4%A']) {
      const r = await get(path);
      assert.equal(r.status, 400, path);
      assert.match(r.text, /^invalid URL escape in "/);
    }
  });

  function wsExec(path: string, protocol: string, onOpen?: (ws: WebSocket) => void): Promise<Array<{ channel: number; data: string }>> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${agent.port}${path}`, [protocol], { ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem });
      const got: Array<{ channel: number; data: string }> = [];
      ws.on('open', () => {
        assert.equal(ws.protocol, protocol);
        onOpen?.(ws);
      });
      ws.on('message', (m: Buffer, isBinary: boolean) => {
        if (isBinary) got.push({ channel: m[0]!, data: m.subarray(1).toString() });
        else got.push({ channel: Number(m.toString()[0]), data: Buffer.from(m.toString().slice(1), 'base64').toString() });
      });
      ws.on('close', (code) => (code === 1000 ? resolve(got) : reject(new Error(`closed ${code}`))));
      ws.on('error', reject);
    });
  }

  it('speaks v4.channel.k8s.io: empty opening frame, output, JSON status, close 1000', async () => {
    const got = await wsExec('/exec/ns/p/c?command=sh&command=-c&command=echo%20hi%3B%20exit%202&output=1&error=1', 'v4.channel.k8s.io');
    assert.deepEqual(got[0], { channel: 1, data: '' });
    assert.ok(got.some((m) => m.channel === 1 && m.data === 'hi\n'));
    const status = JSON.parse(got.find((m) => m.channel === 3)!.data);
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '2' }]);
  });

  it('speaks base64.channel.k8s.io with stdin (v1: the status is text, only on failure)', async () => {
    const got = await wsExec('/exec/ns/p/c?command=head&command=-n1&input=1&output=1', 'base64.channel.k8s.io', (ws) => ws.send('0' + Buffer.from('typed\n').toString('base64')));
    assert.ok(got.some((m) => m.channel === 1 && m.data === 'typed\n'), JSON.stringify(got));
    assert.equal(got.filter((m) => m.channel === 3 && m.data !== '').length, 0);
  });

  it('v5 close signal ends stdin', async () => {
    const got = await wsExec('/exec/ns/p/c?command=wc&command=-c&input=1&output=1', 'v5.channel.k8s.io', (ws) => {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('12345')]));
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(got.filter((m) => m.channel === 1).map((m) => m.data).join('').trim(), '5');
    assert.deepEqual(JSON.parse(got.find((m) => m.channel === 3)!.data), { metadata: {}, status: 'Success' });
  });
});
