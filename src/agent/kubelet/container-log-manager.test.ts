/**
 * ContainerLogManager against a stand-in for containerd's log writing: a fake runtime that appends CRI records to each
 * container's log path and, on ReopenContainerLog, starts a new file there (as containerd does). Rotation by size,
 * kubelet's names, gzip of all but the newest rotated file, retention of containerLogMaxFiles, the rename back when the
 * reopen fails, a lost log recovered, leftovers cleaned; then readContainerLogs reads the compressed files as one
 * ordered stream.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FakeClock } from '../../client/testing/fake-clock.js';
import type { Logger } from '../../log/logger.js';
import { readContainerLogs } from '../logs/container-log-reader.js';
import { formatCriRecord } from '../logs/cri-log-format.js';
import type { ContainerFilter, ContainerStatus } from '../runtime/types.js';
import { ContainerLogManager, validateContainerLogPolicy } from './container-log-manager.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

/** Writes numbered lines the way containerd would, and reopens on request. */
class LogWritingRuntime {
  readonly reopened: string[] = [];
  failReopen: Error | undefined;
  private line = 0;
  constructor(
    readonly containers: Map<string, { logPath: string; state: 'running' | 'exited' }>,
    private readonly clock: FakeClock,
  ) {}

  write(id: string, lines: number): void {
    const c = this.containers.get(id)!;
    const records: Buffer[] = [];
    for (let i = 0; i < lines; i++) {
      records.push(formatCriRecord({ timeNs: BigInt(this.clock.now().getTime()) * 1_000_000n + BigInt(this.line), stream: 'stdout', partial: false, content: Buffer.from(`line ${String(++this.line).padStart(6, '0')}`) }));
    }
    appendFileSync(c.logPath, Buffer.concat(records));
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    return [...this.containers]
      .filter(([, c]) => !filter.state || filter.state === c.state)
      .map(([id, c]) => ({ id, logPath: c.logPath, state: c.state }) as ContainerStatus);
  }

  async reopenContainerLog(id: string): Promise<void> {
    if (this.failReopen) throw this.failReopen;
    this.reopened.push(id);
    writeFileSync(this.containers.get(id)!.logPath, '', { flag: 'a' });
  }
}

const errors: string[] = [];
const log = { component: 'test', debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m), isDebugEnabled: () => false } as unknown as Logger;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  errors.length = 0;
  for (const c of cleanups.splice(0)) await c();
});

async function setup(opts: { maxSizeBytes?: number; maxFiles?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-logmgr-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'app'));
  const clock = new FakeClock(T0);
  const logPath = join(dir, 'app', '0.log');
  writeFileSync(logPath, '');
  const runtime = new LogWritingRuntime(new Map([['c1', { logPath, state: 'running' }]]), clock);
  const manager = new ContainerLogManager({ runtime, maxSizeBytes: opts.maxSizeBytes ?? 1000, maxFiles: opts.maxFiles ?? 3, clock, log });
  const files = () => readdirSync(join(dir, 'app')).sort();
  return { dir, clock, logPath, runtime, manager, files };
}

const readAll = async (path: string, options: Parameters<typeof readContainerLogs>[1] = {}) => {
  const chunks: Buffer[] = [];
  for await (const c of readContainerLogs(path, options)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
};

describe('ContainerLogManager', () => {
  it('leaves a log under containerLogMaxSize alone; rotates one at the size: kubelet-named rename, then ReopenContainerLog', async () => {
    const s = await setup();
    s.runtime.write('c1', 10); // ~50 bytes a record: 500 bytes
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log']);
    assert.deepEqual(s.runtime.reopened, []);
    s.runtime.write('c1', 20);
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log', '0.log.20260102-030405']);
    assert.deepEqual(s.runtime.reopened, ['c1']);
    assert.equal(readFileSync(s.logPath).length, 0, 'containerd started a new file');
    assert.match(readFileSync(join(s.dir, 'app', '0.log.20260102-030405'), 'utf8'), /line 000030\n$/);
  });

  it('keeps containerLogMaxFiles files: the current one, the newest rotated one plain, older ones gzipped, the oldest removed', async () => {
    const s = await setup({ maxFiles: 4 });
    for (let round = 0; round < 5; round++) {
      s.runtime.write('c1', 30);
      await s.manager.rotateLogs();
      s.clock.advance(10_000);
    }
    s.runtime.write('c1', 3);
    assert.deepEqual(s.files(), ['0.log', '0.log.20260102-030425.gz', '0.log.20260102-030435.gz', '0.log.20260102-030445']);
    // Each compressed file holds exactly what was rotated: the third round's lines 61-90 here.
    const third = gunzipSync(readFileSync(join(s.dir, 'app', '0.log.20260102-030425.gz'))).toString();
    assert.match(third, /^\S+ stdout F line 000061\n/);
    assert.match(third, /line 000090\n$/);
    // kubectl logs: the kept files as one ordered stream, compressed ones included; --tail reaches into them.
    const all = (await readAll(s.logPath)).split('\n').filter(Boolean);
    assert.deepEqual(all.map((l) => Number(l.slice(5))), Array.from({ length: 93 }, (_, i) => i + 61));
    assert.equal(await readAll(s.logPath, { tailLines: 35 }), Array.from({ length: 35 }, (_, i) => `line ${String(i + 119).padStart(6, '0')}\n`).join(''));
  });

  it('two rotations within one second get -1: no rotated file is overwritten', async () => {
    const s = await setup({ maxFiles: 5 });
    s.runtime.write('c1', 30);
    await s.manager.rotateLogs();
    s.runtime.write('c1', 30);
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log', '0.log.20260102-030405-1', '0.log.20260102-030405.gz']);
  });

  it('a failed ReopenContainerLog renames the log back (the next round tries again) and is logged', async () => {
    const s = await setup();
    s.runtime.write('c1', 30);
    s.runtime.failReopen = new Error('container is not running');
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log']);
    assert.equal(readFileSync(s.logPath, 'utf8').split('\n').length, 31);
    assert.deepEqual(errors, ['rotating the log of container c1: failed to reopen container log "c1": container is not running']);
    s.runtime.failReopen = undefined;
    s.clock.advance(10_000);
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log', '0.log.20260102-030415']);
  });

  it('a lost log is reopened; temporary and already-compressed leftovers are removed; exited containers are not touched', async () => {
    const s = await setup();
    await rm(s.logPath);
    await s.manager.rotateLogs();
    assert.deepEqual(s.runtime.reopened, ['c1']);
    assert.ok(existsSync(s.logPath));
    writeFileSync(join(s.dir, 'app', '0.log.20260101-000000'), 'x');
    writeFileSync(join(s.dir, 'app', '0.log.20260101-000000.gz'), 'x');
    writeFileSync(join(s.dir, 'app', '0.log.20260101-000001.tmp'), 'x');
    s.runtime.write('c1', 30);
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log', '0.log.20260101-000000.gz', '0.log.20260102-030405']);

    s.runtime.containers.get('c1')!.state = 'exited';
    s.runtime.write('c1', 30);
    await s.manager.rotateLogs();
    assert.deepEqual(s.files(), ['0.log', '0.log.20260101-000000.gz', '0.log.20260102-030405']);
  });

  it('start() checks every monitor interval until stop()', async () => {
    const s = await setup();
    const manager = new ContainerLogManager({ runtime: s.runtime, maxSizeBytes: 1000, maxFiles: 3, clock: s.clock, log, monitorIntervalMs: 10_000 });
    manager.start();
    s.runtime.write('c1', 30);
    s.clock.advance(9_999);
    assert.deepEqual(s.runtime.reopened, []);
    s.clock.advance(1);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(s.runtime.reopened, ['c1']);
    await manager.stop();
    s.runtime.write('c1', 30);
    s.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(s.runtime.reopened, ['c1']);
  });

  it("validates the policy in kubelet's words", () => {
    assert.equal(validateContainerLogPolicy(10, 1), 'invalid MaxFiles 1, must be > 1');
    assert.equal(validateContainerLogPolicy(-1, 5), 'invalid MaxSize -1, must be >= 0');
    assert.equal(validateContainerLogPolicy(10 * 1024 * 1024, 5), undefined);
    assert.throws(() => new ContainerLogManager({ runtime: { listContainers: async () => [], reopenContainerLog: async () => {} }, maxFiles: 0 }), /invalid MaxFiles 0/);
  });
});
