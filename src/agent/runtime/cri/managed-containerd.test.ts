/**
 * ManagedContainerd: the generated config (pure), and the supervisor against a real containerd: killed -> restarted
 * with the containers still running; a containerd left by a killed agent is replaced; stop() ends it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { renderContainerdConfig } from './containerd-config.js';
import { skipUnlessContainerd, startCriTestEnv, TEST_BUSYBOX_IMAGE, type CriTestEnv } from './cri-test-env.js';
import { findBinary, ManagedContainerd, type ManagedContainerdOptions } from './managed-containerd.js';

describe('renderContainerdConfig', () => {
  const text = renderContainerdConfig({
    rootDir: '/data/agent/containerd',
    stateDir: '/run/skiff/containerd',
    socketPath: '/run/skiff/containerd/containerd.sock',
    sandboxImage: 'registry.k8s.io/pause:3.9',
    cniBinDir: '/usr/lib/cni',
    cniConfDir: '/data/agent/etc/cni/net.d',
    registryConfigDir: '/data/agent/etc/containerd/certs.d',
    extraRuntimes: { crun: 'crun' },
  });
  // Each line this machine type needs (reference/runtime-feasibility.md, section 3), in its table.
  for (const [table, line] of [
    ['', 'version = 2'],
    ['', 'root = "/data/agent/containerd"'],
    ['', 'state = "/run/skiff/containerd"'],
    ['[grpc]', 'address = "/run/skiff/containerd/containerd.sock"'],
    ['[ttrpc]', 'address = "/run/skiff/containerd/containerd.sock.ttrpc"'],
    ['[plugins."io.containerd.grpc.v1.cri"]', 'restrict_oom_score_adj = true'],
    ['[plugins."io.containerd.grpc.v1.cri"]', 'sandbox_image = "registry.k8s.io/pause:3.9"'],
    ['[plugins."io.containerd.grpc.v1.cri"]', 'stream_server_address = "127.0.0.1"'],
    ['[plugins."io.containerd.grpc.v1.cri"]', 'stream_server_port = "0"'],
    ['[plugins."io.containerd.grpc.v1.cri".containerd]', 'snapshotter = "overlayfs"'],
    ['[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."runc".options]', 'SystemdCgroup = false'],
    ['[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."crun".options]', 'BinaryName = "crun"'],
    ['[plugins."io.containerd.grpc.v1.cri".cni]', 'bin_dir = "/usr/lib/cni"'],
    ['[plugins."io.containerd.grpc.v1.cri".cni]', 'conf_dir = "/data/agent/etc/cni/net.d"'],
    ['[plugins."io.containerd.grpc.v1.cri".registry]', 'config_path = "/data/agent/etc/containerd/certs.d"'],
  ]) {
    test(`${table || '(top)'} ${line}`, () => {
      // The line must appear after its table header and before the next header.
      const lines = text.split('\n').map((l) => l.trim());
      const start = table === '' ? 0 : lines.indexOf(table);
      assert.ok(start >= 0, `no table ${table}`);
      const end = lines.findIndex((l, i) => i > start && l.startsWith('['));
      assert.ok(lines.slice(start, end < 0 ? undefined : end).includes(line), `${line} not in ${table}:\n${text}`);
    });
  }
});

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Under a loaded machine (the whole suite on two cores) tsx and containerd start slowly: not what these tests judge. */
const AGENT_READY_TIMEOUT_MS = 90_000;
/** The module under test beside this file: the .ts under tsx, the compiled .js under dist/. */
const MODULE = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './managed-containerd.ts' : './managed-containerd.js', import.meta.url));

interface AgentScript {
  process: ChildProcess;
  containerdPid: number;
}

/**
 * An "agent": a separate Node process that starts a ManagedContainerd and prints its pid, then idles until the test
 * kills it. A failure to get that far rejects with the script's stderr, which says why.
 */
async function startAgentScript(options: ManagedContainerdOptions): Promise<AgentScript> {
  const script = `
    import { ManagedContainerd } from ${JSON.stringify(MODULE)};
    const m = new ManagedContainerd(${JSON.stringify(options)});
    await m.start();
    process.stdout.write(String(m.pid) + '\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  try {
    const containerdPid = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const line = /^(\d+)\n/m.exec(stdout);
        if (line) resolve(Number(line[1]));
      });
      child.once('exit', (code, signal) => reject(new Error(`agent script exited with ${code ?? signal} before containerd was ready:\n${stderr}`)));
    });
    return { process: child, containerdPid };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

describe('ManagedContainerd supervising a real containerd', skipUnlessContainerd(), () => {
  let env: CriTestEnv;
  before(async () => {
    env = await startCriTestEnv();
  });
  after(async () => {
    await env?.cleanup();
  });

  test('killed with SIGKILL: restarted, answers again, and the running container survived', async () => {
    const config = env.sandboxConfig('survivor');
    const sandboxId = await env.runtime.runPodSandbox(config);
    const id = await env.runtime.createContainer(
      sandboxId,
      { metadata: { name: 's', attempt: 0 }, image: TEST_BUSYBOX_IMAGE, command: ['sleep', '3600'], args: [], env: [], mounts: [], logPath: 's/0.log', stdin: false, stdinOnce: false, tty: false, resources: {}, labels: {}, annotations: {} },
      config,
    );
    await env.runtime.startContainer(id);
    const before = await env.runtime.containerStatus(id);
    const oldPid = env.containerd.pid!;
    const killedAt = performance.now();
    process.kill(oldPid, 'SIGKILL');
    await sleep(50);
    await assert.rejects(env.runtime.version(), (err) => (err as { code?: string }).code === 'Unavailable');
    await env.containerd.waitReady(20_000);
    for (;;) {
      try {
        await env.runtime.version();
        break;
      } catch {
        await sleep(20);
      }
    }
    process.stderr.write(`cri containerd restart after SIGKILL: ${Math.round(performance.now() - killedAt)} ms\n`);
    assert.notEqual(env.containerd.pid, oldPid);
    assert.equal(env.containerd.restarts, 1);
    const after = await env.runtime.containerStatus(id);
    assert.equal(after?.state, 'running');
    assert.equal(after?.startedAt, before?.startedAt);
    assert.equal((await env.runtime.execSync(id, ['echo', 'still here'], 5000)).stdout.toString(), 'still here\n');
    assert.match(await readFile(env.containerd.logPath, 'utf8'), /containerd successfully booted/);
  });

  test('a containerd left by a killed agent on the same data dir is replaced', async () => {
    const dir = await mkdtemp('/tmp/skcri-stale-');
    // dieWithAgent false: as on a machine without setpriv, where the orphan outlives the agent.
    const options = { dataDir: dir, sandboxImage: 'registry.k8s.io/pause:skiff-test', cniConfDir: join(dir, 'cni'), dieWithAgent: false, readyTimeoutMs: AGENT_READY_TIMEOUT_MS };
    let stalePid: number | undefined;
    let second: ManagedContainerd | undefined;
    try {
      const agent = await startAgentScript(options);
      stalePid = agent.containerdPid;
      agent.process.kill('SIGKILL');
      second = new ManagedContainerd(options);
      assert.ok(existsSync(`/proc/${stalePid}`), 'the orphaned containerd still runs');
      await second.start();
      assert.ok(!existsSync(`/proc/${stalePid}`) || (await readFile(`/proc/${stalePid}/stat`, 'utf8')).includes(') Z '), 'the stale containerd was stopped');
      assert.notEqual(second.pid, stalePid);
      await second.stop();
      assert.equal(second.pid, undefined);
    } finally {
      await second?.stop();
      if (stalePid !== undefined) {
        try {
          process.kill(stalePid, 'SIGKILL');
        } catch {
          // already gone, as expected
        }
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('by default containerd dies with a killed agent (setpriv --pdeathsig)', async (t) => {
    if (!findBinary('setpriv')) return t.skip('setpriv (util-linux) is not installed');
    const dir = await mkdtemp('/tmp/skcri-death-');
    const options = { dataDir: dir, sandboxImage: 'registry.k8s.io/pause:skiff-test', cniConfDir: join(dir, 'cni'), readyTimeoutMs: AGENT_READY_TIMEOUT_MS };
    let agent: AgentScript | undefined;
    try {
      agent = await startAgentScript(options);
      const pid = agent.containerdPid;
      assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /containerd/);
      agent.process.kill('SIGKILL');
      const gone = () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      for (let i = 0; i < 100 && !gone(); i++) await sleep(50);
      assert.ok(gone(), 'containerd ended with its agent');
    } finally {
      agent?.process.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ManagedContainerd that cannot start', skipUnlessContainerd(), () => {
  test('a containerd that exits at once: start() fails with its log, and nothing is left restarting it', async () => {
    const dir = await mkdtemp('/tmp/skcri-bad-');
    // `false` exits 1 at once, whatever its arguments: a stand-in for a containerd that refuses its config.
    const m = new ManagedContainerd({ dataDir: dir, sandboxImage: 'x', cniConfDir: join(dir, 'cni'), binary: '/bin/false', readyTimeoutMs: 1500, restartBackoff: { initialMs: 50, maxMs: 100, resetAfterMs: 10_000 } });
    try {
      await assert.rejects(m.start(), /did not answer on .* within 1500 ms; see .*containerd\.log/);
      const restarts = m.restarts;
      assert.ok(restarts >= 1, 'the supervisor tried again meanwhile');
      await sleep(400);
      assert.equal(m.restarts, restarts, 'and stopped trying once start() gave up');
      assert.equal(m.pid, undefined);
    } finally {
      await m.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
