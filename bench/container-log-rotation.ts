/**
 * bench/container-log-rotation: what the cri runtime's container log rotation costs the node agent.
 *
 * - check: one ContainerLogManager round (kubelet's 10 s check) over N running containers whose logs are under the
 *   limit, against a baseline of stat-ing the same N files (the least any check must do). The runtime's list answer
 *   is a stand-in, so the ratio is the manager's own overhead.
 * - rotate: a round that rotates one 10 MiB log (rename, reopen, gzip of the previous rotated 10 MiB file), against a
 *   baseline of copying 10 MiB (the I/O floor); the ms per rotation is the agent's CPU bill every time a chatty
 *   container passes the limit.
 * - read: `kubectl logs` of a container whose history is one compressed and one plain rotated 10 MiB file plus the
 *   current one (readContainerLogs), against the same bytes all uncompressed (the process runtime's layout).
 *
 * Phases alternate in rounds in one run; prints one JSON object with medians in ms and the ratios.
 * Usage: npm run build && node dist/bench/container-log-rotation.js [--containers 200] [--rounds 7]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ContainerLogManager } from '../src/agent/kubelet/container-log-manager.js';
import { readContainerLogs } from '../src/agent/logs/container-log-reader.js';
import { formatCriRecord } from '../src/agent/logs/cri-log-format.js';
import type { ContainerStatus } from '../src/agent/runtime/types.js';
import type { Logger } from '../src/log/logger.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const containers = arg('--containers', 200);
const rounds = arg('--rounds', 7);
const MiB = 1024 * 1024;
const quiet = { component: 'bench', debug() {}, info() {}, warn() {}, error(m: string) { throw new Error(m); }, isDebugEnabled: () => false } as unknown as Logger;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (fn: () => Promise<unknown> | unknown) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

/** ~10 MiB of CRI records. */
function tenMiB(start: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = start; size < 10 * MiB; i++) {
    const r = formatCriRecord({ timeNs: BigInt(Date.now()) * 1_000_000n + BigInt(i), stream: 'stdout', partial: false, content: Buffer.from(`line ${String(i).padStart(8, '0')} ${'x'.repeat(60)}`) });
    parts.push(r);
    size += r.length;
  }
  return Buffer.concat(parts);
}

const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-logrot-'));
try {
  // check: N containers, small logs.
  const list: ContainerStatus[] = [];
  const small = tenMiB(0).subarray(0, 4096);
  for (let i = 0; i < containers; i++) {
    const path = join(dir, 'check', `c${i}`, '0.log');
    mkdirSync(join(dir, 'check', `c${i}`), { recursive: true });
    writeFileSync(path, small);
    list.push({ id: `c${i}`, logPath: path, state: 'running' } as ContainerStatus);
  }
  const checkRuntime = { listContainers: async () => list, reopenContainerLog: async () => {} };
  const checker = new ContainerLogManager({ runtime: checkRuntime, log: quiet });

  // rotate: one container whose log passes 10 MiB each round.
  const rotDir = join(dir, 'rotate');
  mkdirSync(rotDir);
  const rotPath = join(rotDir, '0.log');
  const payload = tenMiB(0);
  let reopened = 0;
  let now = Date.UTC(2026, 0, 1);
  const rotator = new ContainerLogManager({
    runtime: { listContainers: async () => [{ id: 'r', logPath: rotPath, state: 'running' } as ContainerStatus], reopenContainerLog: async () => void (reopened++, writeFileSync(rotPath, '')) },
    maxFiles: 3,
    log: quiet,
    clock: { now: () => new Date((now += 10_000)), setTimeout: () => ({ cancel() {} }) },
  });

  // read: compressed + plain + current, vs all plain.
  const readDir = join(dir, 'read');
  const plainDir = join(dir, 'read-plain');
  mkdirSync(readDir);
  mkdirSync(plainDir);
  const a = tenMiB(0);
  const b = tenMiB(200_000);
  const c = tenMiB(400_000).subarray(0, MiB);
  writeFileSync(join(readDir, '0.log.20260101-000000.gz'), gzipSync(a));
  writeFileSync(join(readDir, '0.log.20260101-000010'), b);
  writeFileSync(join(readDir, '0.log'), c);
  writeFileSync(join(plainDir, '0.log.20260101-000000'), a);
  writeFileSync(join(plainDir, '0.log.20260101-000010'), b);
  writeFileSync(join(plainDir, '0.log'), c);
  const readAll = async (path: string) => {
    let bytes = 0;
    for await (const chunk of readContainerLogs(path)) bytes += (chunk as Buffer).length;
    return bytes;
  };

  const t = { checkMs: [] as number[], statMs: [] as number[], rotateMs: [] as number[], copyMs: [] as number[], readCompressedMs: [] as number[], readPlainMs: [] as number[] };
  await checker.rotateLogs(); // warm-up
  for (let r = 0; r < rounds; r++) {
    t.statMs.push(await time(() => Promise.all(list.map((x) => stat(x.logPath)))));
    t.checkMs.push(await time(() => checker.rotateLogs()));

    writeFileSync(rotPath, payload);
    t.rotateMs.push(await time(() => rotator.rotateLogs()));
    t.copyMs.push(await time(() => copyFileSync(join(plainDir, '0.log.20260101-000000'), join(dir, 'copy.tmp'))));

    t.readCompressedMs.push(await time(() => readAll(join(readDir, '0.log'))));
    t.readPlainMs.push(await time(() => readAll(join(plainDir, '0.log'))));
  }
  if (reopened !== rounds) throw new Error(`expected ${rounds} rotations, saw ${reopened}`);
  if (readFileSync(join(rotDir, '0.log')).length !== 0) throw new Error('the rotated log was not reopened');

  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(median(v) * 100) / 100])) as Record<keyof typeof t, number>;
  console.log(
    JSON.stringify(
      {
        bench: 'container-log-rotation',
        containers,
        rounds,
        loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
        medianMs: m,
        ratios: {
          checkVsStat: Math.round((m.checkMs / m.statMs) * 100) / 100,
          rotate10MiBVsCopy10MiB: Math.round((m.rotateMs / m.copyMs) * 100) / 100,
          readCompressedVsPlain: Math.round((m.readCompressedMs / m.readPlainMs) * 100) / 100,
        },
        perContainerCheckUs: Math.round((m.checkMs / containers) * 1000),
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
