/** terminationMessagePath / terminationMessagePolicy: the pure rules and the reads, on files in a temporary dir. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ContainerStatus } from '../runtime/types.js';
import { CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION, CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION } from './runtime-pod-status.js';
import { fallsBackToLogs, lastBytes, prepareTerminationMessageFile, readTerminationMessage, TERMINATION_MESSAGE_HOST_PATH_ANNOTATION, withTerminationMessage } from './termination-message.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'skiff-termmsg-'));
  dirs.push(d);
  return d;
};

describe('termination message rules', () => {
  const table: Array<[string | undefined, number, string, boolean]> = [
    ['FallbackToLogsOnError', 1, 'Error', true],
    ['FallbackToLogsOnError', 137, 'OOMKilled', true],
    ['FallbackToLogsOnError', 0, 'Completed', false],
    ['FallbackToLogsOnError', 128, 'StartError', false],
    ['FallbackToLogsOnError', 127, 'ContainerCannotRun', false],
    ['File', 1, 'Error', false],
    [undefined, 1, 'Error', false],
  ];
  for (const [policy, code, reason, want] of table) it(`fallsBackToLogs(${policy}, ${code}, ${reason}) = ${want}`, () => assert.equal(fallsBackToLogs(policy, code, reason), want));
  it('lastBytes keeps the end; withTerminationMessage joins with ": "', () => {
    assert.equal(lastBytes(Buffer.from('abcdef'), 4), 'cdef');
    assert.equal(lastBytes(Buffer.from('ab'), 4), 'ab');
    assert.equal(withTerminationMessage('', 'm'), 'm');
    assert.equal(withTerminationMessage('runtime says', 'm'), 'runtime says: m');
    assert.equal(withTerminationMessage('runtime says', ''), 'runtime says');
  });
});

describe('termination message files', () => {
  const status = (over: Partial<ContainerStatus>, annotations: Record<string, string>): ContainerStatus => ({
    id: 'c1', podSandboxId: 's', metadata: { name: 'app', attempt: 0 }, state: 'exited', createdAt: 1, startedAt: 1, finishedAt: 2,
    exitCode: 1, reason: 'Error', message: '', image: 'i', imageRef: 'i', logPath: '', labels: {}, annotations, ...over,
  });
  it('prepares a 0666 file per instance under <pods>/<uid>/containers/<name>, for the default and a custom path', async () => {
    const d = await tmp();
    const a = (await prepareTerminationMessageFile(d, 'uid-1', { name: 'app' }))!;
    const b = (await prepareTerminationMessageFile(d, 'uid-1', { name: 'app', terminationMessagePath: '/tmp/msg' }))!;
    assert.equal(a.mount.containerPath, '/dev/termination-log');
    assert.equal(b.mount.containerPath, '/tmp/msg');
    assert.notEqual(a.mount.hostPath, b.mount.hostPath);
    assert.ok(a.mount.hostPath.startsWith(join(d, 'uid-1', 'containers', 'app') + '/'));
    assert.equal((await stat(a.mount.hostPath)).mode & 0o777, 0o666);
    assert.equal(a.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION], a.mount.hostPath);
    assert.equal(await prepareTerminationMessageFile(d, 'uid-1', { name: 'x', terminationMessagePath: 'relative' }), undefined);
  });
  it('reads the file; falls back to the log only when the file is empty and the container failed; a missing log is no message', async () => {
    const d = await tmp();
    const file = join(d, 'msg');
    const log = join(d, '0.log');
    await writeFile(log, '2025-01-01T00:00:00.000000000Z stdout P part \n2025-01-01T00:00:00.000000001Z stdout F one\n2025-01-01T00:00:00.000000002Z stderr F two\n');
    const ann = (policy: string) => ({ [TERMINATION_MESSAGE_HOST_PATH_ANNOTATION]: file, [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]: '/dev/termination-log', [CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION]: policy });
    await writeFile(file, 'from the file');
    assert.equal(await readTerminationMessage(status({ logPath: log }, ann('FallbackToLogsOnError'))), 'from the file');
    await writeFile(file, '');
    assert.equal(await readTerminationMessage(status({ logPath: log }, ann('FallbackToLogsOnError'))), 'part one\ntwo\n');
    assert.equal(await readTerminationMessage(status({ logPath: log }, ann('File'))), '');
    assert.equal(await readTerminationMessage(status({ logPath: log, exitCode: 0, reason: 'Completed' }, ann('FallbackToLogsOnError'))), '');
    assert.equal(await readTerminationMessage(status({ logPath: join(d, 'none.log') }, ann('FallbackToLogsOnError'))), '');
    await rm(file);
    assert.equal(await readTerminationMessage(status({ logPath: log }, ann('FallbackToLogsOnError'))), 'part one\ntwo\n', 'a missing file falls back too');
  });
});
