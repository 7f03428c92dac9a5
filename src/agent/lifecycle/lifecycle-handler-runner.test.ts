import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Container, LifecycleHandler, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import type { ExecSyncResult } from '../runtime/types.js';
import { closedPort, listenHttp, listenHttps, type TestServer } from '../probes/probe-testing.js';
import { LifecycleHandlerRunner, type HookTarget } from './lifecycle-handler-runner.js';

const pod: Pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' } };
const IN = 'for Container "app" in Pod "web_default(u1)"';

const execResult = (exitCode: number, stdout = '', stderr = '', timedOut = false): ExecSyncResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  timedOut,
});

function target(lifecycle: Container['lifecycle'], extra: Partial<Container> = {}, podIp = '127.0.0.1'): HookTarget {
  return { pod, container: { name: 'app', lifecycle, ...extra }, containerId: 'cid', podIp };
}

describe('LifecycleHandlerRunner', () => {
  let server: TestServer;
  let tls: TestServer;
  let refused: number;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/fail') res.statusCode = 500;
    if (req.url === '/missing') res.statusCode = 404;
    if (req.url === '/moved') res.statusCode = 302;
    if (req.url === '/hang') return;
    res.end('done');
  };
  before(async () => {
    server = await listenHttp(handler);
    tls = await listenHttps(handler);
    refused = await closedPort();
  });
  after(async () => {
    await server.close();
    await tls.close();
  });

  describe('exec', () => {
    const cases: Array<{ name: string; answer: () => Promise<ExecSyncResult>; error?: string }> = [
      { name: 'exit 0 is success', answer: async () => execResult(0, 'hi') },
      {
        name: 'a non-zero exit fails with the CRI exit error and the output',
        answer: async () => execResult(3, 'out', 'err'),
        error: `Exec lifecycle hook ([sh -c setup]) ${IN} failed - error: command 'sh -c setup' exited with 3: err, message: "outerr"`,
      },
      {
        name: 'a runtime error',
        answer: async () => {
          throw new Error('container not running');
        },
        error: `Exec lifecycle hook ([sh -c setup]) ${IN} failed - error: container not running, message: ""`,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const calls: unknown[] = [];
        const runner = new LifecycleHandlerRunner({
          execSync: async (...args) => {
            calls.push(args);
            return c.answer();
          },
        });
        const outcome = await runner.runPostStart(target({ postStart: { exec: { command: ['sh', '-c', 'setup'] } } }));
        assert.deepEqual(outcome, c.error ? { failure: { reason: 'PostStartHookError', message: c.error } } : {});
        assert.deepEqual(calls, [['cid', ['sh', '-c', 'setup'], 0]], 'postStart exec has no timeout, as kubelet (0)');
      });
    }
  });

  describe('httpGet', () => {
    const run = (action: Record<string, unknown>, podIp = '127.0.0.1', ports: Container['ports'] = []) =>
      new LifecycleHandlerRunner({ execSync: async () => assert.fail('no exec') }).run(target(undefined, { ports }, podIp), { httpGet: { port: server.port, ...action } } as LifecycleHandler);

    it('succeeds on 2xx and 3xx, sending kube-lifecycle as user agent', async () => {
      seen.length = 0;
      assert.deepEqual(await run({ path: '/ok' }), {});
      assert.deepEqual(await run({ path: '/moved' }), {});
      // As kubelet 1.32 (handlers.go): a response of any status is success.
      assert.deepEqual(await run({ path: '/fail' }), {});
      assert.deepEqual(await run({ path: '/missing' }), {});
      assert.equal(seen[0]!.headers['user-agent'], 'kube-lifecycle/1.32');
      assert.equal(seen[0]!.headers.accept, '*/*');
    });

    it('resolves a named port', async () => {
      assert.deepEqual(await run({ path: '/ok', port: 'web' }, '127.0.0.1', [{ name: 'web', containerPort: server.port }]), {});
    });

    const failing: Array<{ name: string; action: () => Record<string, unknown>; podIp?: string; error: () => string }> = [
      {
        name: 'connection refused',
        action: () => ({ path: '/x', port: refused }),
        error: () => `HTTP lifecycle hook (/x) ${IN} failed - error: Get "http://127.0.0.1:${refused}/x": dial tcp 127.0.0.1:${refused}: connect: connection refused`,
      },
      { name: 'an unknown port name', action: () => ({ path: '/x', port: 'admin' }), error: () => `HTTP lifecycle hook (/x) ${IN} failed - error: strconv.Atoi: parsing "admin": invalid syntax` },
      { name: 'no pod IP and no host', action: () => ({ path: '/x' }), podIp: '', error: () => `HTTP lifecycle hook (/x) ${IN} failed - error: failed to find networking container: the pod has no IP` },
    ];
    for (const c of failing) {
      it(`fails on ${c.name}`, async () => {
        assert.deepEqual(await run(c.action(), c.podIp ?? '127.0.0.1'), { error: c.error() });
      });
    }

    it('HTTPS without certificate verification', async () => {
      assert.deepEqual(await run({ path: '/ok', port: tls.port, scheme: 'HTTPS' }), {});
    });

    it('an HTTPS hook answered in plain HTTP is retried over HTTP without Authorization, with a warning', async () => {
      seen.length = 0;
      const result = await run({ path: '/ok', scheme: 'HTTPS', httpHeaders: [{ name: 'Authorization', value: 'Bearer t' }, { name: 'X-Keep', value: '1' }] });
      assert.deepEqual(result, { fallbackWarning: `request to HTTPS lifecycle hook 127.0.0.1:${server.port} got HTTP response, retry with HTTP succeeded` });
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers.authorization, undefined);
      assert.equal(seen[0]!.headers['x-keep'], '1');
    });
  });

  describe('sleep and preStop on the clock', () => {
    it('sleep waits sleep.seconds on the clock', async () => {
      const clock = new FakeClock();
      const runner = new LifecycleHandlerRunner({ execSync: async () => execResult(0), clock });
      let done = false;
      const p = runner.run(target(undefined), { sleep: { seconds: 5 } }).then((r) => {
        done = true;
        return r;
      });
      await clock.advanceAsync(4999);
      assert.equal(done, false);
      await clock.advanceAsync(1);
      assert.deepEqual(await p, {});
    });

    it('preStop: a sleep longer than the grace period is abandoned at its end', async () => {
      const clock = new FakeClock();
      const runner = new LifecycleHandlerRunner({ execSync: async () => execResult(0), clock });
      const p = runner.runPreStop(target({ preStop: { sleep: { seconds: 60 } } }), 30_000);
      await clock.advanceAsync(30_000);
      assert.deepEqual(await p, { timedOut: true, elapsedMs: 30_000 });
      assert.equal(clock.pendingTimers, 0, 'the sleep timer is cancelled');
    });

    it('preStop: a quick hook reports its time; exec is bounded by the grace period', async () => {
      const clock = new FakeClock();
      const calls: unknown[] = [];
      const runner = new LifecycleHandlerRunner({
        execSync: async (...args) => {
          calls.push(args);
          return execResult(1, '', 'nginx: no pid');
        },
        clock,
      });
      const outcome = await runner.runPreStop(target({ preStop: { exec: { command: ['nginx', '-s', 'quit'] } } }), 30_000);
      assert.deepEqual(outcome, {
        error: `Exec lifecycle hook ([nginx -s quit]) ${IN} failed - error: command 'nginx -s quit' exited with 1: nginx: no pid, message: "nginx: no pid"`,
        timedOut: false,
        elapsedMs: 0,
      });
      assert.deepEqual(calls, [['cid', ['nginx', '-s', 'quit'], 30_000]]);
    });

    it('preStop: an HTTP hook that never answers is abandoned at the end of the grace period', async () => {
      const clock = new FakeClock();
      const runner = new LifecycleHandlerRunner({ execSync: async () => execResult(0), clock });
      seen.length = 0;
      const p = runner.runPreStop(target({ preStop: { httpGet: { port: server.port, path: '/hang' } } }), 2000);
      while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
      await clock.advanceAsync(2000);
      assert.deepEqual(await p, { timedOut: true, elapsedMs: 2000 });
    });

    it('no preStop hook: nothing to wait for', async () => {
      const runner = new LifecycleHandlerRunner({ execSync: async () => execResult(0), clock: new FakeClock() });
      assert.deepEqual(await runner.runPreStop(target(undefined), 30_000), { timedOut: false, elapsedMs: 0 });
      assert.deepEqual(await runner.runPostStart(target(undefined)), {});
    });
  });
});
