import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tcpProbe } from './tcp-probe.js';
import { closedPort, listenHttp, type TestServer } from './probe-testing.js';

describe('tcpProbe against a real socket', () => {
  let server: TestServer;
  let refused: number;
  before(async () => {
    server = await listenHttp(() => {});
    refused = await closedPort();
  });
  after(() => server.close());

  it('succeeds when the port accepts, and closes the connection', async () => {
    assert.deepEqual(await tcpProbe('127.0.0.1', server.port, 1000), { result: 'success', output: '' });
  });

  it('fails with Go dial words when the port refuses', async () => {
    assert.deepEqual(await tcpProbe('127.0.0.1', refused, 1000), {
      result: 'failure',
      output: `dial tcp 127.0.0.1:${refused}: connect: connection refused`,
    });
  });

  it('brackets an IPv6 host in the message', async () => {
    const outcome = await tcpProbe('::1', refused, 1000);
    assert.equal(outcome.result, 'failure');
    assert.match(outcome.output, new RegExp(`^dial tcp \\[::1\\]:${refused}: `));
  });
});
