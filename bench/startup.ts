/**
 * bench/startup: how fast `skiff server` answers /readyz on a fresh and on an existing data dir, and its idle RSS,
 * beside the floor measured in the same run: a bare Node process that starts an HTTPS server and answers.
 * Targets: <= 2 s fresh, <= 1 s existing, idle RSS <= 100 MB. Prints one JSON object.
 * Usage: npm run build && node dist/bench/startup.js [--runs 5] [--settle-ms 45000] [--disable-agent]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKIFF_BIN } from '../test/helpers/server-process.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
/** --disable-agent: the control plane alone (the README's idle RSS row); by default the server with its node agent. */
const controlPlaneOnly = process.argv.includes('--disable-agent');
/** When the idle RSS is read a second time, after start-up garbage is given back. */
const settleMs = Number(process.argv[process.argv.indexOf('--settle-ms') + 1]) || 45_000;

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(500, () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Spawns argv, polls /readyz on port every 5 ms; returns ms until 200 and the pid. */
async function timeToReady(argv: string[], port: number): Promise<{ ms: number; kill: () => Promise<void>; pid: number }> {
  const start = performance.now();
  const child = spawn(process.execPath, argv, { stdio: 'ignore' });
  for (;;) {
    if (await probe(port)) {
      // The next run reuses the port and the data dir: wait until this process is gone.
      const kill = () => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      return { ms: performance.now() - start, kill, pid: child.pid! };
    }
    if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited with ${child.exitCode}`);
    if (performance.now() - start > 20_000) throw new Error('not ready in 20 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const fresh: number[] = [];
  const existing: number[] = [];
  const bare: number[] = [];
  let idleRss = 0;
  let settledRss = 0;
  let bareRss = 0;
  const dirs: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-start-'));
      dirs.push(dir);
      const port = await freePort();
      const args = [SKIFF_BIN, 'server', '--data-dir', dir, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', ...(controlPlaneOnly ? ['--disable-agent'] : [])];
      const a = await timeToReady(args, port);
      fresh.push(a.ms);
      await a.kill();
      await new Promise((r) => setTimeout(r, 300));
      const b = await timeToReady(args, port);
      existing.push(b.ms);
      if (i === 0) {
        await new Promise((r) => setTimeout(r, 2000));
        idleRss = await rssMb(b.pid);
        // V8 keeps the young generation it grew while starting until its memory reducer runs, about 30 s later.
        await new Promise((r) => setTimeout(r, settleMs - 2000));
        settledRss = await rssMb(b.pid);
      }
      await b.kill();
      await new Promise((r) => setTimeout(r, 300));
      const tls = join(dir, 'server', 'tls');
      const barePort = await freePort();
      const script = `const https=require('node:https'),fs=require('node:fs');https.createServer({cert:fs.readFileSync(${JSON.stringify(join(tls, 'serving-kube-apiserver.crt'))}),key:fs.readFileSync(${JSON.stringify(join(tls, 'serving-kube-apiserver.key'))})},(q,s)=>s.end('ok')).listen(${barePort},'127.0.0.1')`;
      const c = await timeToReady(['-e', script], barePort);
      bare.push(c.ms);
      if (i === 0) bareRss = await rssMb(c.pid);
      await c.kill();
    }
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
  const r = (x: number) => Math.round(x);
  console.log(
    JSON.stringify(
      {
        bench: 'startup',
        runs,
        server: controlPlaneOnly ? 'skiff server --disable-agent' : 'skiff server (with its node agent)',
        skiff: { fresh_readyz_ms_median: r(median(fresh)), existing_readyz_ms_median: r(median(existing)), fresh_ms: fresh.map(r), existing_ms: existing.map(r), idle_rss_mb_2s: idleRss, idle_rss_mb_settled: settledRss, settle_ms: settleMs },
        baseline_bare_node_https: { readyz_ms_median: r(median(bare)), rss_mb: bareRss },
        ratios_skiff_over_bare: { fresh: Math.round((median(fresh) / median(bare)) * 100) / 100, existing: Math.round((median(existing) / median(bare)) * 100) / 100, rss_settled: Math.round((settledRss / bareRss) * 100) / 100 },
        targets: { fresh_readyz_ms: '<= 2000', existing_readyz_ms: '<= 1000', idle_rss_mb_settled: '<= 100' },
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
