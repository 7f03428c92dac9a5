/**
 * CniNetwork against the real plugins in /usr/lib/cni: real namespaces, a real bridge on a random free /29, real TCP.
 * Every name is unique to this run; the after hook removes namespaces, the bridge, the FORWARD guard and the temp dir
 * even when a step failed, and the last step proves the plugins' own rules and leases are gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniNetwork } from './cni-network.js';
import { createNetns, deleteNetns, isNetns } from './netns.js';
import type { PodNetworkRequest } from './types.js';
import { guardSubnet, inNetns, ipv4ToNumber, iptablesSave, pickFreeSubnet, randomHex, realNetworkSkipReason, run } from './network-testing.js';

const skip = await realNetworkSkipReason();

test('status says why pods cannot get their own network', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cni-status-'));
  try {
    const options = { stateDir: join(dir, 'state'), confDir: join(dir, 'conf'), pluginDirs: [join(dir, 'plugins')] };
    assert.deepEqual(await new CniNetwork({ ...options, isRoot: false }).status(), { ready: false, message: 'not root: pods use the host network' });
    assert.deepEqual(await new CniNetwork({ ...options, isRoot: true }).status(), { ready: false, message: `no CNI plugins in ${join(dir, 'plugins')}` });
    await mkdir(join(dir, 'plugins'));
    for (const plugin of ['bridge', 'host-local']) await writeFile(join(dir, 'plugins', plugin), '#!/bin/sh\n', { mode: 0o755 });
    assert.deepEqual(await new CniNetwork({ ...options, isRoot: true }).status(), {
      ready: false,
      message: `CNI plugins missing in ${join(dir, 'plugins')}: portmap, loopback`,
    });
    for (const plugin of ['portmap', 'loopback']) await writeFile(join(dir, 'plugins', plugin), '#!/bin/sh\n', { mode: 0o755 });
    const network = new CniNetwork({ ...options, isRoot: true });
    assert.deepEqual(await network.status(), { ready: false, message: 'the node has no podCIDR yet' });
    const request: PodNetworkRequest = { sandboxId: 's1', netnsPath: '/proc/self/ns/net', podName: 'p', podNamespace: 'ns', podUid: 'u', portMappings: [] };
    await assert.rejects(network.setUp(request), /pod network for ns\/p: the node has no podCIDR yet/);
    await network.tearDown(request); // nothing was ever set up: a no-op, not an error
    await network.setPodCidrs(['10.42.7.0/24']);
    assert.deepEqual(await network.status(), { ready: true });
    assert.match(network.bridgeName, /^skiff[0-9a-f]{6}$/);
    const conflist = JSON.parse(await readFile(network.conflistPath, 'utf8'));
    assert.equal(conflist.plugins[0].ipam.dataDir, join(dir, 'state', 'ipam'));
    // As root, setPodCidrs made the node's masquerade chain (a real one): removeBridge takes it away again.
    if (process.geteuid?.() === 0) await network.removeBridge();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('CniNetwork with the real CNI plugins', { skip }, () => {
  const suffix = randomHex(4);
  const bridgeName = `skt${suffix}`; // 11 characters
  const networkName = `skiff-test-${suffix}`;
  let subnet: string;
  let dir: string;
  let runDir: string;
  let network: CniNetwork;
  let removeGuard: (() => Promise<void>) | undefined;
  let hostServer: Server | undefined;
  const children: ChildProcess[] = [];
  const requests = new Map<string, PodNetworkRequest>();
  const ips = new Map<string, string>();
  const hostPort = 20_000 + Math.floor(Math.random() * 10_000);
  let hostIp: string;
  const timings = { add: [] as number[], del: [] as number[] };

  const pod = async (name: string, portMappings: PodNetworkRequest['portMappings'] = []): Promise<PodNetworkRequest> => {
    const netnsName = `${networkName}-${name}`;
    const request: PodNetworkRequest = {
      sandboxId: `${suffix}${randomHex(12)}`,
      netnsPath: await createNetns(netnsName, runDir),
      podName: name,
      podNamespace: 'default',
      podUid: randomHex(16),
      portMappings,
    };
    requests.set(name, request);
    return request;
  };
  const setUp = async (name: string) => {
    const request = requests.get(name)!;
    const started = performance.now();
    const result = await network.setUp(request);
    timings.add.push(performance.now() - started);
    ips.set(name, result.ips[0]!);
    return result;
  };
  const tearDown = async (name: string) => {
    const started = performance.now();
    await network.tearDown(requests.get(name)!);
    timings.del.push(performance.now() - started);
  };
  const leases = async () => (await readdir(join(dir, 'state', 'ipam', networkName)).catch(() => [] as string[])).filter((f) => /^\d/.test(f)).sort();
  const curl = (url: string, netns?: string) => {
    const args = ['curl', '-sS', '--max-time', '3', url];
    return netns === undefined ? run(args[0]!, args.slice(1), { timeout: 5_000 }) : inNetns(netns, args, 5_000);
  };

  before(async () => {
    subnet = await pickFreeSubnet(29); // .1 the bridge, .2-.6 for pods: five pods fill it
    dir = await mkdtemp(join(tmpdir(), 'skiff-cni-'));
    runDir = join(dir, 'netns');
    removeGuard = await guardSubnet(subnet, bridgeName);
    network = new CniNetwork({ stateDir: join(dir, 'state'), confDir: join(dir, 'conf'), podCidrs: [subnet], bridgeName, networkName });
    const route = (await run('ip', ['-j', 'route', 'get', '1.1.1.1'])).stdout;
    hostIp = (JSON.parse(route) as Array<{ prefsrc: string }>)[0]!.prefsrc;
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    hostServer?.close();
    for (const request of requests.values()) await network.tearDown(request).catch(() => undefined);
    for (const name of requests.keys()) await deleteNetns(`${networkName}-${name}`, runDir).catch(() => undefined);
    await network?.removeBridge().catch(() => undefined);
    await removeGuard?.().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('status is ready and the conflist is written', async () => {
    assert.deepEqual(await network.status(), { ready: true });
    await network.writeConflist();
    const conflist = JSON.parse(await readFile(network.conflistPath, 'utf8'));
    assert.equal(conflist.plugins[0].bridge, bridgeName);
    assert.deepEqual(conflist.plugins[0].ipam.ranges, [[{ subnet }]]);
  });

  test('two pods get distinct addresses in the podCIDR, lo up, a default route via the bridge', async () => {
    await pod('a');
    await pod('b', [{ protocol: 'TCP', containerPort: 8080, hostPort }]);
    const a = await setUp('a');
    const b = await setUp('b');
    const base = ipv4ToNumber(subnet.split('/')[0]!);
    const gateway = `${subnet.split('/')[0]!.split('.').slice(0, 3).join('.')}.${(base % 256) + 1}`;
    assert.notEqual(a.ips[0], b.ips[0]);
    for (const result of [a, b]) {
      assert.equal(result.ips.length, 1);
      const n = ipv4ToNumber(result.ips[0]!);
      assert.ok(n > base + 1 && n < base + 7, `${result.ips[0]} inside ${subnet}, not the gateway`);
      assert.equal(result.gateway, gateway);
    }
    const lo = (await inNetns(requests.get('a')!.netnsPath, ['ip', '-j', 'addr', 'show', 'lo'])).stdout;
    assert.match(lo, /"operstate":"UNKNOWN"|"flags":\[[^\]]*"UP"/);
    const routes = (await inNetns(requests.get('a')!.netnsPath, ['ip', '-j', 'route'])).stdout;
    assert.ok((JSON.parse(routes) as Array<{ dst: string; gateway?: string }>).some((r) => r.dst === 'default' && r.gateway === gateway), routes);
  });

  test('TCP pod to pod, host to pod, and hostPort through portmap', async () => {
    const www = join(dir, 'www');
    await mkdir(www);
    await writeFile(join(www, 'index.html'), 'hello from b\n');
    const httpd = spawn('nsenter', [`--net=${requests.get('b')!.netnsPath}`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
    children.push(httpd);
    const url = `http://${ips.get('b')}:8080/index.html`;
    let lastError: unknown;
    for (let i = 0; i < 50; i++) {
      try {
        assert.equal((await curl(url)).stdout, 'hello from b\n'); // host -> pod
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (lastError !== undefined) throw lastError;
    assert.equal((await curl(url, requests.get('a')!.netnsPath)).stdout, 'hello from b\n'); // pod -> pod
    assert.equal((await curl(`http://127.0.0.1:${hostPort}/index.html`)).stdout, 'hello from b\n'); // hostPort on loopback
    assert.equal((await curl(`http://${hostIp}:${hostPort}/index.html`)).stdout, 'hello from b\n'); // hostPort on the node's IP
    assert.equal((await curl(`http://${hostIp}:${hostPort}/index.html`, requests.get('a')!.netnsPath)).stdout, 'hello from b\n'); // pod -> hostPort
  });

  test('a pod reaches the host (the bridge gateway and the node IP)', async () => {
    hostServer = createServer((_req, res) => res.end('hello from the host\n'));
    await new Promise<void>((resolve) => hostServer!.listen(0, '0.0.0.0', resolve));
    const port = (hostServer.address() as { port: number }).port;
    const routes = (await inNetns(requests.get('a')!.netnsPath, ['ip', '-j', 'route'])).stdout;
    const gw = (JSON.parse(routes) as Array<{ dst: string; gateway?: string }>).find((r) => r.dst === 'default')!.gateway!;
    assert.equal((await curl(`http://${gw}:${port}/`, requests.get('a')!.netnsPath)).stdout, 'hello from the host\n');
    assert.equal((await curl(`http://${hostIp}:${port}/`, requests.get('a')!.netnsPath)).stdout, 'hello from the host\n');
    assert.equal((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim(), '1');
  });

  test('CHECK passes on a pod as ADD left it', async () => {
    await network.check(requests.get('a')!);
  });

  test('setUp again keeps an intact attachment (same address) and remakes a broken one without leaking its lease', async () => {
    const a = requests.get('a')!;
    const before = await leases();
    assert.deepEqual(await network.setUp(a), { ips: [ips.get('a')!], gateway: (await network.podIps(a.sandboxId))?.gateway });
    assert.deepEqual(await leases(), before);
    await inNetns(a.netnsPath, ['ip', 'link', 'delete', 'eth0']);
    await assert.rejects(network.check(a), /CNI plugin "bridge" CHECK failed/);
    const again = await network.setUp(a);
    ips.set('a', again.ips[0]!);
    assert.equal((await leases()).length, before.length, 'the old lease was released');
    assert.deepEqual((await network.podIps(a.sandboxId))?.ips, again.ips);
    const perPod = (await iptablesSave()).split('\n').filter((line) => line.includes(a.sandboxId));
    assert.deepEqual(perPod, [], 'no rule per pod: one node-wide masquerade chain covers it');
    await network.check(a);
    assert.equal((await curl(`http://${ips.get('b')}:8080/index.html`, a.netnsPath)).stdout, 'hello from b\n');
  });

  test('a full range fails with host-local\'s words and leaks nothing; a torn-down pod\'s address is reused', async () => {
    await pod('c');
    await pod('d');
    await pod('e');
    await pod('f');
    await setUp('c');
    await setUp('d');
    await setUp('e');
    assert.equal((await leases()).length, 5);
    await assert.rejects(network.setUp(requests.get('f')!), (err: Error) => {
      assert.match(err.message, /CNI plugin "bridge" ADD failed: .*no IP addresses available/);
      return true;
    });
    assert.equal((await leases()).length, 5, 'the failed ADD left no lease');
    const freed = ips.get('c')!;
    await tearDown('c');
    assert.ok(!(await leases()).includes(freed), 'DEL released the lease');
    await network.tearDown(requests.get('c')!); // idempotent
    const f = await setUp('f');
    assert.equal(f.ips[0], freed);
  });

  test('a pod in /proc/<pid>/ns/net: set up, and torn down after its process died', async () => {
    const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    children.push(holder);
    await tearDown('f');
    const request: PodNetworkRequest = { ...requests.get('f')!, sandboxId: `${suffix}${randomHex(12)}`, netnsPath: `/proc/${holder.pid}/ns/net` };
    requests.set('g', request);
    for (let i = 0; i < 100 && (await readFile(`/proc/${holder.pid}/comm`, 'utf8')).trim() !== 'sleep'; i++) await new Promise((r) => setTimeout(r, 10));
    const g = await setUp('g');
    assert.ok((await leases()).includes(g.ips[0]!));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    assert.equal(await isNetns(request.netnsPath), false);
    await tearDown('g');
    assert.ok(!(await leases()).includes(g.ips[0]!));
    assert.doesNotMatch(await iptablesSave(), new RegExp(request.sandboxId));
  });

  test('traffic leaving the node is masqueraded by the one node-wide rule', async () => {
    const chain = `SKIFF-MASQ-${bridgeName}`;
    const counters = async () => {
      const out = (await run('iptables', ['-w', '5', '-t', 'nat', '-L', chain, '-v', '-x', '-n'])).stdout.split('\n');
      const packets = (target: string) => Number(out.find((l) => l.includes(` ${target} `))?.trim().split(/\s+/)[0] ?? NaN);
      return { masq: packets('MASQUERADE'), ret: packets('RETURN') };
    };
    const before = await counters();
    assert.ok(Number.isFinite(before.masq) && Number.isFinite(before.ret), 'the chain has its two rules');
    // A TEST-NET-2 address, out through the default route: one SYN is enough to count. The test's guard drops what
    // its pods forward off the bridge, so this one destination is let through for the moment.
    const pass = ['FORWARD', '-s', subnet, '-d', '198.51.100.7/32', '-p', 'tcp', '--dport', '9', '-m', 'comment', '--comment', `skiff test guard ${bridgeName} egress probe`, '-j', 'ACCEPT'];
    await run('iptables', ['-w', '5', '-I', ...pass.slice(0, 1), '1', ...pass.slice(1)]);
    try {
      await curl('http://198.51.100.7:9/', requests.get('a')!.netnsPath).catch(() => undefined);
    } finally {
      await run('iptables', ['-w', '5', '-D', ...pass]);
    }
    await curl(`http://${ips.get('b')}:8080/index.html`, requests.get('a')!.netnsPath);
    const after = await counters();
    assert.ok(after.masq > before.masq, `MASQUERADE counted the pod's connection out (${before.masq} -> ${after.masq})`);
  });

  test('tearDown after the netns was deleted releases the lease and removes the hostPort and masquerade rules', async () => {
    const b = requests.get('b')!;
    assert.match(await iptablesSave(), new RegExp(`id: \\\\"${b.sandboxId}\\\\"`), 'ADD made rules for b');
    await deleteNetns(`${networkName}-b`, runDir);
    await tearDown('b');
    await network.tearDown(b); // idempotent
    assert.ok(!(await leases()).includes(ips.get('b')!));
    assert.doesNotMatch(await iptablesSave(), new RegExp(b.sandboxId));
    await assert.rejects(curl(`http://127.0.0.1:${hostPort}/index.html`));
  });

  test('after every tearDown no lease, rule or chain of this network is left; removeBridge deletes the bridge', async (t) => {
    await tearDown('a');
    // A restarted agent (a new instance over the same state dir) tears down what the old one set up.
    const restarted = new CniNetwork({ stateDir: join(dir, 'state'), confDir: join(dir, 'conf'), podCidrs: [subnet], bridgeName, networkName });
    for (const name of ['d', 'e']) await restarted.tearDown(requests.get(name)!);
    assert.deepEqual(await leases(), []);
    // (The test's own FORWARD guard names the subnet; it is removed in after().)
    const rules = (await iptablesSave()).split('\n').filter((line) => !line.includes('skiff test guard')).join('\n');
    assert.doesNotMatch(rules, new RegExp(networkName));
    for (const request of requests.values()) assert.doesNotMatch(rules, new RegExp(request.sandboxId));
    for (const ip of ips.values()) assert.doesNotMatch(rules, new RegExp(`${ip.replaceAll('.', '\\.')}[/: ]`), `no rule names ${ip}`);
    // What stays while the agent lives is its one masquerade chain for the podCIDR; removeBridge takes it away too.
    const named = rules.split('\n').filter((line) => line.includes(subnet));
    assert.deepEqual(named, [`-A POSTROUTING -s ${subnet} -m comment --comment "skiff: masquerade for pods on ${bridgeName}" -j SKIFF-MASQ-${bridgeName}`, `-A SKIFF-MASQ-${bridgeName} -d ${subnet} -m comment --comment "skiff: pod to pod, not masqueraded" -j RETURN`]);
    await network.removeBridge();
    const after = (await iptablesSave()).split('\n').filter((line) => !line.includes('skiff test guard')).join('\n');
    assert.doesNotMatch(after, new RegExp(subnet.replaceAll('.', '\\.')));
    assert.doesNotMatch(after, new RegExp(`SKIFF-MASQ-${bridgeName}`));
    await network.removeBridge(); // idempotent
    await assert.rejects(run('ip', ['link', 'show', bridgeName]));
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    t.diagnostic(`ADD ms: ${timings.add.map((x) => x.toFixed(0)).join(' ')} (median ${median(timings.add).toFixed(0)})`);
    t.diagnostic(`DEL ms: ${timings.del.map((x) => x.toFixed(0)).join(' ')} (median ${median(timings.del).toFixed(0)})`);
  });
});

describe('CniNetwork: pods set up and torn down at once', { skip }, () => {
  const suffix = randomHex(4);
  const bridgeName = `skp${suffix}`; // not skc: the cri test env names its bridges skc<6 hex>
  const networkName = `skiff-test-${suffix}`;
  const count = 8;
  let dir: string;
  let subnet: string;
  let network: CniNetwork;
  let removeGuard: (() => Promise<void>) | undefined;
  const requests: PodNetworkRequest[] = [];

  before(async () => {
    subnet = await pickFreeSubnet(27);
    dir = await mkdtemp(join(tmpdir(), 'skiff-cni-'));
    removeGuard = await guardSubnet(subnet, bridgeName);
    network = new CniNetwork({ stateDir: join(dir, 'state'), confDir: join(dir, 'conf'), podCidrs: [subnet], bridgeName, networkName });
  });

  after(async () => {
    for (const request of requests) await network.tearDown(request).catch(() => undefined);
    for (let i = 0; i < count; i++) await deleteNetns(`${networkName}-${i}`, join(dir, 'netns')).catch(() => undefined);
    await network?.removeBridge().catch(() => undefined);
    await removeGuard?.().catch(() => undefined);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test(`${count} pods at once get distinct addresses and reach each other; all torn down at once leave nothing`, async (t) => {
    for (let i = 0; i < count; i++) {
      requests.push({
        sandboxId: `${suffix}${randomHex(12)}`,
        netnsPath: await createNetns(`${networkName}-${i}`, join(dir, 'netns')),
        podName: `p${i}`,
        podNamespace: 'default',
        podUid: randomHex(16),
        portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: 30_000 + Math.floor(Math.random() * 2_000) + i * 2_000 }],
      });
    }
    let started = performance.now();
    const results = await Promise.all(requests.map((r) => network.setUp(r)));
    const addMs = performance.now() - started;
    const addresses = results.map((r) => r.ips[0]!);
    assert.equal(new Set(addresses).size, count, addresses.join(' '));
    // Every pod reaches the last one (ping is enough here: TCP is covered above).
    await Promise.all(requests.slice(0, -1).map((r) => inNetns(r.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '2', addresses[count - 1]!])));

    // Garbage collection after a "restart": a fresh instance, half the sandboxes still alive.
    const restarted = new CniNetwork({ stateDir: join(dir, 'state'), confDir: join(dir, 'conf'), podCidrs: [subnet], bridgeName, networkName });
    const live = new Set(requests.slice(0, count / 2).map((r) => r.sandboxId));
    const collected = await restarted.garbageCollect(live);
    assert.deepEqual(collected.sort(), requests.slice(count / 2).map((r) => r.sandboxId).sort());
    const leasesAfterGc = (await readdir(join(dir, 'state', 'ipam', networkName))).filter((f) => /^\d/.test(f)).sort();
    assert.deepEqual(leasesAfterGc, addresses.slice(0, count / 2).sort());
    const links = JSON.parse((await inNetns(requests[count - 1]!.netnsPath, ['ip', '-j', 'link'])).stdout) as Array<{ ifname: string }>;
    assert.deepEqual(links.map((l) => l.ifname), ['lo'], 'the collected sandbox lost its eth0');
    await inNetns(requests[0]!.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '2', addresses[1]!]);
    assert.deepEqual(await restarted.garbageCollect(live), [], 'nothing left to collect');

    started = performance.now();
    await Promise.all(requests.map((r) => network.tearDown(r)));
    const delMs = performance.now() - started;
    const leases = (await readdir(join(dir, 'state', 'ipam', networkName))).filter((f) => /^\d/.test(f));
    assert.deepEqual(leases, []);
    const rules = await iptablesSave();
    for (const r of requests) assert.doesNotMatch(rules, new RegExp(r.sandboxId));
    t.diagnostic(`${count} pods: ADD all ${addMs.toFixed(0)} ms (${(addMs / count).toFixed(0)} ms/pod), DEL all ${delMs.toFixed(0)} ms (${(delMs / count).toFixed(0)} ms/pod)`);
  });
});
