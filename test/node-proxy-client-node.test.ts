/**
 * @kubernetes/client-node 1.4.0's Exec, Attach, PortForward and Log through the API server's node proxy to a real agent
 * API running host processes. client-node offers v5..v1 channel subprotocols for exec and speaks the WebSocket channel
 * port-forward protocol (`?ports=`), not SPDY.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { StreamEvent } from '../src/agent/server/agent-server.js';
import { startNodeProxyCluster, type NodeProxyCluster } from './node-proxy-harness.js';

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

function statusOf(exec: k8s.Exec, cmd: string[], stdin: Readable | null = null): Promise<{ status: k8s.V1Status; stdout: string; stderr: string }> {
  const out = collector();
  const err = collector();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exec ${cmd.join(' ')}: no status within 10 s (stdout ${out.text()})`)), 10_000);
    exec
      .exec('default', 'web', 'main', cmd, out.stream, err.stream, stdin, false, (status) => {
        clearTimeout(timer);
        // The status arrives before the socket closes; give the last output frames a moment.
        setTimeout(() => resolve({ status, stdout: out.text(), stderr: err.text() }), 50);
      })
      .catch(reject);
  });
}

describe('@kubernetes/client-node through the node proxy', () => {
  let c: NodeProxyCluster;
  let kc: k8s.KubeConfig;
  let echo: Server;
  let echoPort: number;
  const protocols: string[] = [];

  before(async () => {
    echo = createServer((s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as { port: number }).port;
    c = await startNodeProxyCluster({ portMap: { 8080: echoPort } });
    c.agent.on('stream', (e: StreamEvent) => protocols.push(`${e.kind} ${e.protocol}`));
    kc = new k8s.KubeConfig();
    kc.loadFromFile(c.kubeconfig);
    await c.addPod({
      metadata: { name: 'web' },
      spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo one; echo two; echo three; sleep 3600'] }] },
    });
  });
  after(async () => {
    await c?.stop();
    echo?.close();
  });

  it('Exec: output, stdin and exit codes', async () => {
    const exec = new k8s.Exec(kc);
    const ok = await statusOf(exec, ['sh', '-c', 'echo out; echo err >&2']);
    assert.equal(ok.status.status, 'Success');
    assert.equal(ok.stdout, 'out\n');
    assert.equal(ok.stderr, 'err\n');
    const failed = await statusOf(exec, ['sh', '-c', 'exit 7']);
    assert.equal(failed.status.status, 'Failure');
    assert.equal(failed.status.reason, 'NonZeroExitCode');
    assert.deepEqual(failed.status.details?.causes, [{ reason: 'ExitCode', message: '7' }]);
    const piped = await statusOf(exec, ['cat'], Readable.from([Buffer.from('abc\n'), Buffer.from('def\n')]));
    assert.equal(piped.stdout, 'abc\ndef\n');
    assert.ok(protocols.includes('exec websocket/v5.channel.k8s.io'), protocols.join(', '));
  });

  it('Log: whole, tail and timestamps', async () => {
    const log = new k8s.Log(kc);
    const read = async (opts: k8s.LogOptions) => {
      const out = collector();
      const done = once(out.stream, 'finish');
      await log.log('default', 'web', 'main', out.stream, opts);
      await done;
      return out.text();
    };
    assert.equal(await read({}), 'one\ntwo\nthree\n');
    assert.equal(await read({ tailLines: 2 }), 'two\nthree\n');
    assert.match(await read({ tailLines: 1, timestamps: true }), /^\S+Z three\n$/);
  });

  it('PortForward: the WebSocket channel protocol to a pod port', async () => {
    const pf = new k8s.PortForward(kc);
    const output = new PassThrough();
    const input = new PassThrough();
    const ws = (await pf.portForward('default', 'web', [8080], output, null, input)) as { close(): void };
    try {
      const got: Buffer[] = [];
      output.on('data', (b: Buffer) => got.push(b));
      input.write('ping over the pod port');
      const deadline = Date.now() + 5_000;
      while (Buffer.concat(got).toString() !== 'ping over the pod port' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(Buffer.concat(got).toString(), 'ping over the pod port');
      assert.ok(protocols.includes('portforward websocket/v4.channel.k8s.io'), protocols.join(', '));
    } finally {
      ws.close();
    }
  });

  it('Attach: the container output reaches the client', async () => {
    await c.addPod({
      metadata: { name: 'talker' },
      spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'sleep 0.5; echo hello from talker; sleep 3600'] }] },
    });
    const attach = new k8s.Attach(kc);
    const out = collector();
    const ws = await attach.attach('default', 'talker', 'main', out.stream, null, null, false);
    try {
      const deadline = Date.now() + 5_000;
      while (!out.text().includes('hello from talker') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(out.text(), /hello from talker/);
    } finally {
      ws.close();
    }
  });
});
