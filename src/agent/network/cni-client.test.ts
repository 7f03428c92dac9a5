/**
 * The exec protocol and libcni's list semantics, against small shell plugins that record what they were given. No root
 * needed. (The real plugins are exercised in cni-network.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniClient, type CniNetworkConfigList, type CniRuntimeConf } from './cni-client.js';
import { CniPluginError, execCniPlugin } from './cni-plugin-exec.js';

let dir: string;
let pluginDir: string;
let logDir: string;

/** A plugin that logs its env and stdin as `<n>-<name>.{env,json}` and prints `result` on ADD (exit `exitCode`). */
async function plugin(name: string, script: { result?: string; exitCode?: number; extra?: string } = {}): Promise<void> {
  const path = join(pluginDir, name);
  await writeFile(
    path,
    `#!/bin/sh
n=$(cat ${logDir}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${logDir}/count
env | grep '^CNI_' | sort > ${logDir}/$n-${name}.env
cat > ${logDir}/$n-${name}.json
${script.extra ?? ''}
if [ "$CNI_COMMAND" = ADD ]; then printf '%s' '${script.result ?? '{"cniVersion":"1.0.0"}'}'; fi
exit ${script.exitCode ?? 0}
`,
  );
  await chmod(path, 0o755);
}

/** The calls recorded since the last reset, in order: plugin name, env, stdin. */
async function calls(): Promise<Array<{ plugin: string; env: Record<string, string>; stdin: Record<string, unknown> }>> {
  const files = (await readdir(logDir)).filter((f) => f.endsWith('.json')).sort((a, b) => Number.parseInt(a) - Number.parseInt(b));
  return Promise.all(
    files.map(async (f) => {
      const stem = f.slice(0, -'.json'.length);
      const env = Object.fromEntries((await readFile(join(logDir, `${stem}.env`), 'utf8')).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      return { plugin: stem.slice(stem.indexOf('-') + 1), env, stdin: JSON.parse(await readFile(join(logDir, f), 'utf8')) as Record<string, unknown> };
    }),
  );
}

async function resetCalls(): Promise<void> {
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir);
}

const ipResult = (address: string) => JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address, gateway: '10.9.0.1', interface: 0 }] });

const list: CniNetworkConfigList = {
  cniVersion: '1.0.0',
  name: 'testnet',
  plugins: [
    { type: 'first', mode: 'a' },
    { type: 'second', capabilities: { portMappings: true, bandwidth: false }, runtimeConfig: { stale: true } },
  ],
};

const rt: CniRuntimeConf = {
  containerId: 'c0ffee',
  netns: '/run/netns/x',
  ifName: 'eth0',
  args: [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', 'default'],
    ['K8S_POD_NAME', 'web'],
  ],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } },
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-cni-client-'));
  pluginDir = join(dir, 'plugins');
  logDir = join(dir, 'log');
  await mkdir(pluginDir);
  await resetCalls();
  await plugin('first', { result: ipResult('10.9.0.5/24') });
  await plugin('second', { result: ipResult('10.9.0.6/24') });
  await plugin('failing', { result: '{"cniVersion":"1.0.0","code":11,"msg":"try again","details":"the lock is held"}', exitCode: 1, extra: 'if [ "$CNI_COMMAND" != ADD ]; then printf \'%s\' \'{"code":7,"msg":"bad config"}\'; fi' });
  await plugin('crashing', { extra: 'echo "panic: runtime error" >&2; exit 2' });
  await plugin('sleeping', { extra: 'sleep 5' });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CniClient', () => {
  test('ADD runs the plugins in order with the exec protocol env, chained prevResult and declared capabilities only', async () => {
    await resetCalls();
    const client = new CniClient({ pluginDirs: [join(dir, 'nowhere'), pluginDir], cacheDir: join(dir, 'cache') });
    process.env.CNI_IFNAME = 'from-the-agent-environment'; // never leaks into a call (libcni drops the runtime's CNI_*)
    const result = await client.addNetworkList(list, rt).finally(() => delete process.env.CNI_IFNAME);
    assert.equal(result.ips?.[0]?.address, '10.9.0.6/24', 'the last plugin\'s result is the list\'s');
    const [first, second, ...rest] = await calls();
    assert.equal(rest.length, 0);
    assert.equal(first!.plugin, 'first');
    assert.deepEqual(first!.env, {
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'c0ffee',
      CNI_IFNAME: 'eth0',
      CNI_NETNS: '/run/netns/x',
      CNI_PATH: `${join(dir, 'nowhere')}:${pluginDir}`,
    });
    assert.deepEqual(first!.stdin, { type: 'first', mode: 'a', name: 'testnet', cniVersion: '1.0.0' });
    assert.equal(second!.plugin, 'second');
    assert.deepEqual(second!.stdin.prevResult, JSON.parse(ipResult('10.9.0.5/24')));
    // Only portMappings: bandwidth is declared false; the conflist's own runtimeConfig is replaced, as libcni does.
    assert.deepEqual(second!.stdin.runtimeConfig, { portMappings: rt.capabilityArgs.portMappings });
    const cached = await client.readCache('testnet', 'c0ffee', 'eth0');
    assert.deepEqual(cached?.result, result);
    assert.deepEqual(cached?.config, list);
  });

  test('CHECK runs in order with the cached result; DEL in reverse with it, then forgets it', async () => {
    const client = new CniClient({ pluginDirs: [pluginDir], cacheDir: join(dir, 'cache') });
    await resetCalls();
    await client.checkNetworkList(list, rt);
    const checks = await calls();
    assert.deepEqual(checks.map((c) => `${c.plugin} ${c.env.CNI_COMMAND}`), ['first CHECK', 'second CHECK']);
    for (const c of checks) assert.equal((c.stdin.prevResult as { ips: Array<{ address: string }> }).ips[0]!.address, '10.9.0.6/24');

    await resetCalls();
    await client.delNetworkList(list, { ...rt, netns: '' });
    const dels = await calls();
    assert.deepEqual(dels.map((c) => `${c.plugin} ${c.env.CNI_COMMAND}`), ['second DEL', 'first DEL']);
    assert.equal(dels[0]!.env.CNI_NETNS, '', 'an empty netns is passed as such');
    for (const c of dels) assert.equal((c.stdin.prevResult as { ips: Array<{ address: string }> }).ips[0]!.address, '10.9.0.6/24');
    assert.equal(await client.readCache('testnet', 'c0ffee', 'eth0'), undefined);

    await resetCalls();
    await client.delNetworkList(list, rt); // nothing cached: DEL still runs every plugin, without prevResult
    const again = await calls();
    assert.equal(again.length, 2);
    assert.equal(again[0]!.stdin.prevResult, undefined);
    await assert.rejects(client.checkNetworkList(list, rt), /no cached result/);
  });

  test('a failing plugin\'s {code, msg, details} becomes a CniPluginError quoting it; DEL still runs the other plugins', async () => {
    const client = new CniClient({ pluginDirs: [pluginDir], cacheDir: join(dir, 'cache') });
    const failing: CniNetworkConfigList = { cniVersion: '1.0.0', name: 'failnet', plugins: [{ type: 'first' }, { type: 'failing' }] };
    await assert.rejects(client.addNetworkList(failing, rt), (err: unknown) => {
      assert.ok(err instanceof CniPluginError);
      assert.equal(err.message, 'CNI plugin "failing" ADD failed: try again: the lock is held (code 11)');
      assert.equal(err.code, 11);
      assert.equal(err.msg, 'try again');
      assert.equal(err.details, 'the lock is held');
      assert.equal(err.command, 'ADD');
      return true;
    });
    assert.equal(await client.readCache('failnet', 'c0ffee', 'eth0'), undefined, 'a failed ADD caches nothing');
    await resetCalls();
    await assert.rejects(client.delNetworkList(failing, rt), /CNI plugin "failing" DEL failed: bad config \(code 7\)/);
    assert.deepEqual((await calls()).map((c) => c.plugin), ['failing', 'first']);
  });

  test('crashes, timeouts and missing binaries are errors that say what happened', async () => {
    const base = { command: 'ADD' as const, containerId: 'c', netns: '/x', ifName: 'eth0', pluginDirs: [pluginDir], config: {}, timeoutMs: 5_000 };
    await assert.rejects(execCniPlugin({ ...base, type: 'crashing' }), /CNI plugin "crashing" ADD failed: exit code 2: panic: runtime error/);
    const started = performance.now();
    await assert.rejects(execCniPlugin({ ...base, type: 'sleeping', timeoutMs: 200 }), /CNI plugin "sleeping" ADD failed: timed out after 200 ms/);
    assert.ok(performance.now() - started < 2_000, 'the plugin was killed at the timeout');
    await assert.rejects(execCniPlugin({ ...base, type: 'absent' }), new RegExp(`CNI plugin "absent" ADD failed: no executable "absent" in ${pluginDir}`));
    await assert.rejects(execCniPlugin({ ...base, type: '../plugins/first' }), /no executable/);
    // A binary found before (its path is remembered for a few seconds) and removed since: the same words.
    await plugin('vanishing');
    await execCniPlugin({ ...base, type: 'vanishing' });
    await rm(join(pluginDir, 'vanishing'));
    await assert.rejects(execCniPlugin({ ...base, type: 'vanishing' }), new RegExp(`CNI plugin "vanishing" ADD failed: no executable "vanishing" in ${pluginDir}`));
  });

  test('VERSION of the installed bridge plugin lists 1.0.0', async (t) => {
    try {
      await access('/usr/lib/cni/bridge');
    } catch {
      if (process.env.CI === 'true') throw new Error('CI: /usr/lib/cni/bridge missing (containernetworking-plugins)');
      t.skip('no /usr/lib/cni/bridge (Debian: containernetworking-plugins)');
      return;
    }
    const client = new CniClient({ pluginDirs: ['/usr/lib/cni'], cacheDir: join(dir, 'cache') });
    const version = await client.version('bridge');
    assert.ok(version.supportedVersions.includes('1.0.0'), JSON.stringify(version));
  });
});
