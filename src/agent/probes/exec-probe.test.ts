import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecSyncResult } from '../runtime/types.js';
import { execProbe } from './exec-probe.js';
import { runProbe } from './run-probe.js';

const result = (exitCode: number, stdout = '', stderr = '', timedOut = false): ExecSyncResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  timedOut,
});

describe('execProbe', () => {
  const cases: Array<{ name: string; answer: () => Promise<ExecSyncResult>; result: string; output: string; error?: string }> = [
    { name: 'exit 0 is success', answer: async () => result(0, 'ok\n'), result: 'success', output: 'ok\n' },
    { name: 'non-zero exit is a failure with stdout then stderr', answer: async () => result(1, 'out;', 'err'), result: 'failure', output: 'out;err' },
    { name: 'a failure without output', answer: async () => result(2), result: 'failure', output: '' },
    { name: 'a timeout', answer: async () => result(-1, '', '', true), result: 'failure', output: 'command "cat /tmp/healthy" timed out' },
    {
      name: 'a runtime error is unknown (kubelet: probe errored)',
      answer: async () => {
        throw new Error('container abc not found');
      },
      result: 'unknown',
      output: '',
      error: 'container abc not found',
    },
    { name: 'output cut at 10 KiB', answer: async () => result(1, 'a'.repeat(8000), 'b'.repeat(8000)), result: 'failure', output: 'a'.repeat(8000) + 'b'.repeat(2240) },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const calls: unknown[] = [];
      const outcome = await execProbe(
        async (...args) => {
          calls.push(args);
          return c.answer();
        },
        'cid',
        ['cat', '/tmp/healthy'],
        3000,
      );
      assert.deepEqual(outcome, { result: c.result, output: c.output, ...(c.error ? { error: c.error } : {}) });
      assert.deepEqual(calls, [['cid', ['cat', '/tmp/healthy'], 3000]]);
    });
  }
});

describe('runProbe', () => {
  it('expands $(VAR) in exec commands with static env only; valueFrom is empty; unknown names stay', async () => {
    const seen: string[][] = [];
    await runProbe(
      { exec: { command: ['check', '$(PORT)', '$(SECRET)', '$(MISSING)', '$$(PORT)'] }, timeoutSeconds: 2 },
      {
        container: { name: 'c', env: [{ name: 'PORT', value: '8080' }, { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
        containerId: 'cid',
        podIp: '10.42.0.5',
      },
      async (_id, cmd, timeoutMs) => {
        seen.push([...cmd, String(timeoutMs)]);
        return result(0);
      },
    );
    assert.deepEqual(seen, [['check', '8080', '', '$(MISSING)', '$(PORT)', '2000']]);
  });

  it('retries a probe that errored, 3 runs in all, and keeps the error', async () => {
    let calls = 0;
    const outcome = await runProbe({ exec: { command: ['x'] } }, { container: { name: 'c' }, containerId: 'cid', podIp: '' }, async () => {
      calls++;
      throw new Error('runtime unavailable');
    });
    assert.equal(calls, 3);
    assert.deepEqual(outcome, { result: 'unknown', output: '', error: 'runtime unavailable' });
  });

  it('does not retry a plain failure', async () => {
    let calls = 0;
    const outcome = await runProbe({ exec: { command: ['x'] } }, { container: { name: 'c' }, containerId: 'cid', podIp: '' }, async () => {
      calls++;
      return result(1, 'bad');
    });
    assert.equal(calls, 1);
    assert.equal(outcome.result, 'failure');
  });

  const errored: Array<{ name: string; probe: import('kubernetes-types/core/v1.js').Probe; error: string }> = [
    { name: 'tcpSocket with an unknown port name', probe: { tcpSocket: { port: 'db' } }, error: 'strconv.Atoi: parsing "db": invalid syntax' },
    { name: 'httpGet with port 0', probe: { httpGet: { port: 0 } }, error: 'invalid port number: 0' },
    { name: 'no handler at all', probe: {}, error: 'missing probe handler for web_default(u1):c' },
  ];
  for (const c of errored) {
    it(`${c.name} is unknown with upstream's error`, async () => {
      const outcome = await runProbe(c.probe, { container: { name: 'c' }, containerId: 'cid', podIp: '127.0.0.1', podName: 'web_default(u1)' }, async () => result(0));
      assert.deepEqual(outcome, { result: 'unknown', output: '', error: c.error });
    });
  }
});
