import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grpcProbe } from './grpc-probe.js';
import { closedPort, listenGrpcHealth, type HealthServer } from './probe-testing.js';

describe('grpcProbe against a real grpc.health.v1 server', () => {
  let health: HealthServer;
  let bare: HealthServer;
  before(async () => {
    health = await listenGrpcHealth({ '': 1, db: 2, cache: 3, odd: 7 });
    bare = await listenGrpcHealth({}, { implementHealth: false });
  });
  after(async () => {
    await health.close();
    await bare.close();
  });

  const cases: Array<{ name: string; service: string; result: string; output: string }> = [
    { name: 'SERVING (overall health, empty service) is success', service: '', result: 'success', output: 'service healthy' },
    { name: 'NOT_SERVING is a failure', service: 'db', result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' },
    { name: 'SERVICE_UNKNOWN is a failure', service: 'cache', result: 'failure', output: 'service unhealthy (responded with "SERVICE_UNKNOWN")' },
    { name: 'a status outside the enum is named by its number', service: 'odd', result: 'failure', output: 'service unhealthy (responded with "7")' },
    {
      name: 'a service the server does not know',
      service: 'nope',
      result: 'failure',
      output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(await grpcProbe('127.0.0.1', c.service, health.port, 1000), { result: c.result, output: c.output });
    });
  }

  it('sends the kube-probe user agent', async () => {
    await grpcProbe('127.0.0.1', '', health.port, 1000);
    assert.match(health.userAgents.at(-1)!, /^kube-probe\/1\.32 /);
  });

  it('a server without the health service', async () => {
    const outcome = await grpcProbe('127.0.0.1', '', bare.port, 1000);
    assert.equal(outcome.result, 'failure');
    assert.match(outcome.output, /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
  });

  it('an answer slower than the timeout', async () => {
    health.delayMs = 1500;
    try {
      assert.deepEqual(await grpcProbe('127.0.0.1', '', health.port, 1000), { result: 'failure', output: 'timeout: health rpc did not complete within 1s' });
    } finally {
      health.delayMs = 0;
    }
  });

  it('a refused connection is a connect timeout, as upstream dials with WithBlock', async () => {
    const port = await closedPort();
    assert.deepEqual(await grpcProbe('127.0.0.1', '', port, 1000), {
      result: 'failure',
      output: `timeout: failed to connect service "127.0.0.1:${port}" within 1s: context deadline exceeded`,
    });
  });
});
