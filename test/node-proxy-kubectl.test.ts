/**
 * The real kubectl against the API server's node proxy and a real agent API running host processes: exec (exit code,
 * stdin, output), attach, port-forward, logs and cp, with kubectl 1.32 (WebSocket v5 for exec/attach, WebSocket-
 * tunnelled SPDY for port-forward), 1.30 (raw SPDY port-forward) and 1.29 (SPDY/3.1 for everything). The agent reports
 * which protocol each connection took, so a silent fallback fails the test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import type { StreamEvent } from '../src/agent/server/agent-server.js';
import { startNodeProxyCluster, type NodeProxyCluster } from './node-proxy-harness.js';

async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Waits until kubectl port-forward prints its "Forwarding from" line. */
async function waitForwarding(child: ReturnType<Kubectl['spawn']>): Promise<void> {
  let out = '';
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`port-forward did not start: ${out} ${err}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Forwarding from')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward exited ${code}: ${out} ${err}`));
    });
  });
}

async function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= payload.length) {
        s.end();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
    s.write(payload);
    setTimeout(() => reject(new Error(`echo through port-forward: got ${got} of ${payload.length} bytes`)), 10_000).unref();
  });
}

/** What each client speaks (kubectl-api-compat.md §3.10, §3.11): exec/attach/cp, then port-forward. */
const suites = [
  { label: 'kubectl 1.32', minor: undefined, exec: 'websocket/v5.channel.k8s.io', portForward: 'websocket/SPDY/3.1+portforward.k8s.io' },
  { label: 'kubectl 1.30', minor: '30', exec: 'websocket/v5.channel.k8s.io', portForward: 'spdy/portforward.k8s.io' },
  { label: 'kubectl 1.29', minor: '29', exec: 'spdy/v4.channel.k8s.io', portForward: 'spdy/portforward.k8s.io' },
] as const;

for (const { label, minor, exec, portForward } of suites) {
  describe(`node proxy with ${label} (${exec}, ${portForward})`, { skip: kubectlSkip(minor) }, () => {
    let c: NodeProxyCluster;
    let k: Kubectl;
    let echo: { server: Server; port: number };
    const protocols: Record<string, Set<string>> = { exec: new Set(), attach: new Set(), portforward: new Set() };

    before(async () => {
      echo = await echoServer();
      c = await startNodeProxyCluster({ portMap: { 7777: echo.port } });
      k = kubectlFor(c.kubeconfig, minor);
      c.agent.on('stream', (e: StreamEvent) => protocols[e.kind]!.add(e.protocol));
      await c.addPod({
        metadata: { name: 'web' },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'busybox',
              stdin: true,
              command: ['sh', '-c', 'echo line-one; echo line-two; echo line-three; while read l; do echo "got $l"; done'],
            },
          ],
        },
      });
    });
    after(async () => {
      await c?.stop();
      echo?.server.close();
    });

    it('exec prints output and propagates the exit code', async () => {
      const ok = await k(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'out\n');
      assert.match(ok.stderr, /err/);
      const failed = await k(['exec', 'web', '--', 'sh', '-c', 'exit 3']);
      assert.equal(failed.code, 3, failed.stderr);
      assert.match(failed.stderr, /command terminated with exit code 3/);
      assert.deepEqual([...protocols.exec!], [exec]);
    });

    it('exec -it gets a terminal and its size (kubectl run under script(1) for a TTY of its own)', async () => {
      const kubectlCmd = [k.bin, '--kubeconfig', c.kubeconfig, 'exec', '-it', 'web', '--', 'sh', '-c', 'tty; exit 4'].join(' ');
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('script', ['-qec', `stty cols 123 rows 45; ${kubectlCmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        child.on('close', (code) => resolve({ code, out }));
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      });
      assert.match(r.out, /\/dev\/pts\/\d+/);
      assert.equal(r.code, 4, r.out);
      assert.ok(c.backend.resizes.some((s) => s.width === 123 && s.height === 45), JSON.stringify(c.backend.resizes));
    });

    it('exec -i passes stdin through to the end', async () => {
      const input = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n';
      const r = await k(['exec', '-i', 'web', '--', 'wc', '-l'], { input });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '2000');
    });

    it('exec into a missing container names it', async () => {
      const r = await k(['exec', 'web', '-c', 'nope', '--', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /container nope is not valid for pod web/);
    });

    it('logs, --tail, --timestamps and -f', async () => {
      const all = await k(['logs', 'web']);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(all.stdout, 'line-one\nline-two\nline-three\n');
      const tail = await k(['logs', 'web', '--tail=1']);
      assert.equal(tail.stdout, 'line-three\n');
      const ts = await k(['logs', 'web', '--tail=1', '--timestamps']);
      assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line-three\n$/);
      // -f streams until the container ends.
      await c.addPod({ metadata: { name: 'short' }, spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo a; sleep 0.4; echo b; sleep 0.4; echo c'] }] } });
      const follow = await k(['logs', '-f', 'short'], { timeoutMs: 10_000 });
      assert.equal(follow.code, 0, follow.stderr);
      assert.equal(follow.stdout, 'a\nb\nc\n');
      const missing = await k(['logs', 'web', '-c', 'nope']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /container nope is not valid for pod web/);
    });

    it('attach sees what the container writes and feeds its stdin', async () => {
      // stdinOnce: the attached client's EOF closes the container's stdin, so its loop ends and so does attach.
      await c.addPod({
        metadata: { name: 'talker' },
        spec: { containers: [{ name: 'main', image: 'busybox', stdin: true, stdinOnce: true, command: ['sh', '-c', 'read l; sleep 0.2; echo "got $l"; sleep 0.2'] }] },
      });
      const r = await k(['attach', '-i', 'talker'], { input: 'hello\n', timeoutMs: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /got hello/);
      assert.deepEqual([...protocols.attach!], [exec]);
    });

    it('port-forward reaches the pod port', async () => {
      const local = await freePort();
      const child = k.spawn(['port-forward', 'pod/web', `${local}:7777`]);
      try {
        await waitForwarding(child);
        const payload = Buffer.alloc(300_000, 'x');
        for (let i = 0; i < 3; i++) {
          const back = await roundTrip(local, payload);
          assert.equal(back.length, payload.length);
        }
        assert.deepEqual([...protocols.portforward!], [portForward]);
      } finally {
        child.kill('SIGTERM');
      }
    });

    it('cp copies a file into the pod and back', async () => {
      const src = join(c.dir, `src-${minor ?? 'ws'}.txt`);
      const content = 'payload '.repeat(20_000);
      await writeFile(src, content);
      const up = await k(['cp', src, `web:copied.txt`]);
      assert.equal(up.code, 0, up.stderr);
      const inPod = await readFile(join(c.dir, 'pods', 'default_web', 'main', 'copied.txt'), 'utf8');
      assert.equal(inPod, content);
      const downDir = join(c.dir, `down-${minor ?? 'ws'}`);
      await mkdir(downDir, { recursive: true });
      const down = await k(['cp', 'web:copied.txt', join(downDir, 'back.txt')]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(await readFile(join(downDir, 'back.txt'), 'utf8'), content);
    });
  });
}
