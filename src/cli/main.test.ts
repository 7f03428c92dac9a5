/** The `skiff` command as a user runs it: a real process, its exit code, stdout and stderr. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Runs from source under tsx and compiled under dist/ alike.
const source = fileURLToPath(new URL('./main.ts', import.meta.url));
const MAIN = existsSync(source) ? source : fileURLToPath(new URL('./main.js', import.meta.url));
const NODE_ARGS = MAIN.endsWith('.ts') ? ['--import', 'tsx', MAIN] : [MAIN];
const env = { ...process.env, SKIFF_CONFIG_FILE: '' };

function run(args: string[]) {
  return spawnSync(process.execPath, [...NODE_ARGS, ...args], { encoding: 'utf8', env, timeout: 30_000 });
}

describe('skiff server --log-format json', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-json-log-'));
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every log line as JSON with level and component, the ready line included', async () => {
    const args = ['server', '--log-format', 'json', '--https-listen-port', '0', '--data-dir', dir, '--datastore-endpoint', 'memory://', '--disable-agent'];
    const proc = spawn(process.execPath, [...NODE_ARGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready entry in 30 s; stderr:\n${stderr}`)), 30_000);
      proc.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (/"msg":"skiff server ready: https:\/\/127\.0\.0\.1:\d+/.test(stderr) && /kube-controller-manager/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`skiff server exited (${code}) before it was ready; stderr:\n${stderr}`));
      });
    });
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);

    assert.equal(stdout, '', 'with JSON logs, stdout carries nothing else');
    const entries = stderr.trimEnd().split('\n').map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return assert.fail(`a stderr line is not JSON: ${line}`);
      }
    });
    for (const e of entries) {
      assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level as string), `level of ${JSON.stringify(e)}`);
      assert.equal(typeof e.component, 'string', `component of ${JSON.stringify(e)}`);
      assert.equal(typeof e.msg, 'string');
      assert.match(e.time as string, /^\d{4}-\d\d-\d\dT.*Z$/);
    }
    const ready = entries.find((e) => String(e.msg).startsWith('skiff server ready: '));
    assert.equal(ready?.component, 'server');
    assert.match(String(ready?.url), /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(entries.some((e) => e.component === 'kube-controller-manager' && e.msg === 'became leader'));
  });
});

describe('skiff flag errors and help', () => {
  it('refuses a bad flag value, saying why, before starting anything', () => {
    const r = run(['server', '--runtime', 'docker', '--data-dir', '/nonexistent/never-created']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^skiff server: invalid value "docker" for --runtime: must be one of auto, cri, process/);
    assert.equal(existsSync('/nonexistent/never-created'), false);
  });

  it('prints help generated from the catalogue for each command', () => {
    const server = run(['server', '--help']);
    assert.equal(server.status, 0);
    assert.match(server.stdout, /--max-requests-inflight N +Read requests served at once.*\[\$SKIFF_MAX_REQUESTS_INFLIGHT; default: 400\]/);
    const agent = run(['agent', '-h']);
    assert.equal(agent.status, 0);
    assert.match(agent.stdout, /^Usage: skiff agent --server URL --token TOKEN \[flags\]/);
  });
});

describe('skiff images import', () => {
  it('keeps an archive for the agent\'s next start when containerd is not running (k3s air-gap directory)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-images-'));
    try {
      const archive = join(dir, 'app.tar');
      await writeFile(archive, 'not parsed until containerd imports it');
      const r = run(['images', 'import', archive, '--data-dir', join(dir, 'data')]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /containerd is not running; copied to .*\/data\/agent\/images\/app\.tar/);
      assert.equal(existsSync(join(dir, 'data', 'agent', 'images', 'app.tar')), true);
      const usage = run(['images']);
      assert.equal(usage.status, 1);
      assert.match(usage.stdout, /^Usage: skiff images import FILE/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
