/**
 * --flannel-backend / --cni-conf-dir / --cni-bin-dir: which network the agent runs, and a user's own conflist (a bridge
 * on another subnet, plugins from another bin dir) used as it is by the real plugins: skiff writes no conflist and makes
 * no masquerade chain.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createNetns, deleteNetns } from './netns.js';
import { guardSubnet, inNetns, iptablesSave, pickFreeSubnet, randomHex, realNetworkSkipReason, run } from './network-testing.js';
import { podMasqueradeChain } from './pod-masquerade.js';
import { selectPodNetwork } from './select-pod-network.js';
import { SKIFF_CONFLIST_FILE } from './skiff-conflist.js';
import { loadUserCniConfig, parseCniConfig } from './user-cni-config.js';

const userConflist = (name: string, bridge: string, subnet: string, dataDir: string) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name,
    plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir } }],
  });

describe('the user CNI config', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'skiff-usercni-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  test('parseCniConfig: lists, single plugins wrapped as libcni does, and what is refused', () => {
    assert.deepEqual(parseCniConfig('{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"bridge"}]}', true), { cniVersion: '0.4.0', name: 'n', plugins: [{ type: 'bridge' }] });
    assert.deepEqual(parseCniConfig('{"cniVersion":"0.3.1","name":"n","type":"ptp"}', false), { cniVersion: '0.3.1', name: 'n', plugins: [{ cniVersion: '0.3.1', name: 'n', type: 'ptp' }] });
    const bad: Array<[string, boolean, RegExp]> = [
      ['{', true, /not JSON/],
      ['[]', true, /not a JSON object/],
      ['{"plugins":[{"type":"x"}]}', true, /no network "name"/],
      ['{"name":"n","plugins":[]}', true, /"plugins" is empty/],
      ['{"name":"n","plugins":[{}]}', true, /without a "type"/],
      ['{"name":"n","type":"bridge"}', true, /\.conflist without "plugins"/],
      ['{"name":"n"}', false, /no plugin "type"/],
    ];
    for (const [text, isList, re] of bad) assert.throws(() => parseCniConfig(text, isList), re, text);
  });

  test('loadUserCniConfig: the first usable file by name; none; only broken ones is an error naming them', async () => {
    assert.equal(await loadUserCniConfig(join(dir, 'absent')), undefined);
    const d = join(dir, 'conf');
    await mkdir(d);
    assert.equal(await loadUserCniConfig(d), undefined);
    await writeFile(join(d, 'README'), 'not a config');
    await writeFile(join(d, '05-broken.conflist'), '{');
    await assert.rejects(loadUserCniConfig(d), /no usable CNI config in .*05-broken\.conflist: not JSON/);
    await writeFile(join(d, '20-b.conf'), '{"cniVersion":"1.0.0","name":"b","type":"bridge"}');
    await writeFile(join(d, '10-a.conflist'), '{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"ptp"}]}');
    const found = await loadUserCniConfig(d);
    assert.equal(found?.path, join(d, '10-a.conflist'));
    assert.equal(found?.list.name, 'a');
  });

  test('selectPodNetwork: default, none, a user config in --cni-conf-dir, an empty --cni-conf-dir', async () => {
    const agentDir = join(dir, 'agent');
    const defaultConfDir = join(dir, 'default-net.d');
    const auto = await selectPodNetwork({ agentDir, defaultConfDir, clusterCidrs: ['10.72.0.0/16'] });
    assert.equal(auto.routes, 'auto');
    assert.equal(auto.confDir, defaultConfDir);
    assert.equal(auto.binDir, '/usr/lib/cni');
    assert.match(auto.reason, /host-gw to nodes on a shared link, vxlan to the others/);
    assert.equal((await selectPodNetwork({ agentDir, defaultConfDir, backend: 'vxlan' })).routes, 'vxlan');

    const none = await selectPodNetwork({ agentDir, defaultConfDir, backend: 'none' });
    assert.equal(none.network, undefined);
    assert.equal(none.routes, undefined);
    assert.match(none.reason, /--flannel-backend none and no CNI config in .*default-net\.d: pods use the host network/);

    const userDir = join(dir, 'user-net.d');
    await mkdir(userDir);
    await writeFile(join(userDir, '10-mine.conflist'), userConflist('mine', 'br-mine', '10.99.0.0/24', join(dir, 'ipam')));
    const user = await selectPodNetwork({ agentDir, defaultConfDir, backend: 'vxlan', cniConfDir: userDir, cniBinDir: '/opt/cni/bin' });
    assert.equal(user.routes, undefined, 'a user config: no skiff routes');
    assert.equal(user.userConfig, join(userDir, '10-mine.conflist'));
    assert.equal(user.network?.networkName, 'mine');
    assert.deepEqual(user.network?.pluginDirs, ['/opt/cni/bin']);
    assert.match(user.reason, /skiff writes none and programs no routes \(--flannel-backend vxlan ignored\)/);
    const viaNone = await selectPodNetwork({ agentDir, defaultConfDir: userDir, backend: 'none' });
    assert.equal(viaNone.userConfig, join(userDir, '10-mine.conflist'));

    // An explicit but empty conf dir: skiff's own conflist goes there (containerd reads it there too).
    const emptyDir = join(dir, 'empty-net.d');
    const own = await selectPodNetwork({ agentDir, defaultConfDir, cniConfDir: emptyDir });
    assert.equal(own.routes, 'auto');
    assert.equal(own.confDir, emptyDir);
    assert.equal(own.network?.conflistPath, join(emptyDir, SKIFF_CONFLIST_FILE));
  });
});

const skip = await realNetworkSkipReason();

describe('a user conflist (bridge on another subnet, plugins from --cni-bin-dir) with the real plugins', { skip }, () => {
  const suffix = randomHex(4);
  const bridge = `sku${suffix}`;
  let dir: string;
  let subnet: string;
  let removeGuard: (() => Promise<void>) | undefined;
  let netnsPath: string | undefined;
  const netnsName = `skiff-usercni-${suffix}`;
  const runDir = `/run/skiff-test-${suffix}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-usercni-real-'));
    subnet = await pickFreeSubnet(29);
    removeGuard = await guardSubnet(subnet, bridge);
  });

  after(async () => {
    if (netnsPath) await deleteNetns(netnsName, runDir);
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
    await removeGuard?.();
    await rm(dir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
    const links = JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
    assert.ok(!links.some((l) => l.ifname === bridge), `bridge ${bridge} removed`);
  });

  test('pods get the user subnet; no 10-skiff.conflist and no SKIFF-MASQ chain are made', async () => {
    const confDir = join(dir, 'net.d');
    const binDir = join(dir, 'bin');
    await mkdir(confDir);
    await mkdir(binDir);
    // The user's plugin dir: the plugins this config names (and loopback), nothing else.
    for (const plugin of ['bridge', 'host-local', 'loopback']) await symlink(`/usr/lib/cni/${plugin}`, join(binDir, plugin));
    await writeFile(join(confDir, '10-user.conflist'), userConflist(`user-${suffix}`, bridge, subnet, join(dir, 'ipam')));
    const selected = await selectPodNetwork({ agentDir: join(dir, 'agent'), defaultConfDir: join(dir, 'unused'), backend: 'none', cniConfDir: confDir, cniBinDir: binDir, clusterCidrs: ['10.72.0.0/16'] });
    const network = selected.network!;
    await network.setPodCidrs(['10.72.9.0/24']);
    assert.deepEqual(await network.status(), { ready: true });
    assert.deepEqual((await readdir(confDir)).sort(), ['10-user.conflist'], 'skiff wrote no conflist');

    netnsPath = await createNetns(netnsName, runDir);
    const request = { sandboxId: `${suffix}${randomHex(12)}`, netnsPath, podName: 'p', podNamespace: 'default', podUid: randomHex(16), portMappings: [] };
    const started = performance.now();
    const { ips, gateway } = await network.setUp(request);
    const addMs = Math.round(performance.now() - started);
    const base = subnet.split('/')[0]!.split('.').map(Number);
    const got = ips[0]!.split('/')[0]!.split('.').map(Number);
    assert.deepEqual(got.slice(0, 3), base.slice(0, 3), `pod IP ${ips[0]} in the user's subnet ${subnet}`);
    assert.ok(got[3]! > base[3]! && got[3]! < base[3]! + 8, `pod IP ${ips[0]} in ${subnet}`);
    assert.ok(gateway, 'the bridge is the gateway');
    const addr = await inNetns(netnsPath, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr.stdout, new RegExp(`"local":"${ips[0]!.split('/')[0]!.replace(/\./g, '\\.')}"`));
    assert.ok(!(await iptablesSave()).includes(podMasqueradeChain(network.bridgeName)), 'no SKIFF-MASQ chain for a user network');
    await network.tearDown(request);
    assert.ok(!existsSync(join(dir, 'ipam', `user-${suffix}`, ips[0]!.split('/')[0]!)), 'the lease is released');
    console.log(`user conflist ADD ${addMs} ms`);
  });
});
