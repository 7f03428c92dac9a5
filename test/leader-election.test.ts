/**
 * HA: two `skiff server` processes on one etcd. The first leads the controller manager and the scheduler; when it is
 * killed (SIGKILL, no Lease release), the second takes over within the Lease duration and its controllers act.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { haveEtcd } from '../src/storage/etcd-store-testing.js';
import { etcdServerGroup } from './helpers/etcd-servers.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip } from './helpers/kubectl.js';
import { waitExit } from './helpers/server-process.js';

function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  if (haveEtcd()) return false;
  if (process.env.CI === 'true') throw new Error('etcd is not installed, and CI=true forbids skipping the HA test');
  return 'etcd is not installed on this machine; skipping the HA test';
}

describe('leader election across servers sharing etcd', { skip: skipReason() }, () => {
  const group = etcdServerGroup('skiff-ha', 'skiff-ha-');
  after(() => group.stopAll());

  it('a second server takes over the controllers when the leader is killed', async () => {
    await group.startEtcd();
    const start = async (extra: string[] = []) => {
      const { s, dir } = await group.start(extra);
      return { s, k: kubectlFor(join(dir, 'kubeconfig.yaml')), dir };
    };
    const a = await start();
    const token = (await readFile(join(a.dir, 'server', 'token'), 'utf8')).trim();
    // A server with another token cannot join the cluster's datastore.
    await assert.rejects(start(), /bootstrap data of a cluster with another token|belongs to a cluster/);
    await eventually('server A leads the controller manager', async () => /kube-controller-manager: became leader/.test(a.s.output()), 20_000);
    const b = await start(['--token', token]);
    const caOf = async (dir: string) => /certificate-authority-data: (\S+)/.exec(await readFile(join(dir, 'kubeconfig.yaml'), 'utf8'))![1];
    assert.equal(await caOf(b.dir), await caOf(a.dir), 'the second server took the cluster CA from the datastore');
    const lease = await b.k.json(['-n', 'kube-system', 'get', 'lease', 'kube-controller-manager']);
    const leaderA = lease.spec.holderIdentity as string;
    assert.ok(leaderA, 'a holder');
    assert.doesNotMatch(b.s.output(), /became leader/, 'B waits while A leads');
    // Both servers serve the same data: a write through A is read through B.
    assert.equal((await a.k(['create', 'configmap', 'shared', '--from-literal=a=b'])).code, 0);
    assert.equal((await b.k.json(['get', 'configmap', 'shared'])).data.a, 'b');

    a.s.child.kill('SIGKILL');
    await waitExit(a.s.child);
    const killedAt = Date.now();
    await eventually('server B leads the controller manager', async () => /kube-controller-manager: became leader/.test(b.s.output()), 30_000);
    const tookOverMs = Date.now() - killedAt;
    const now = await b.k.json(['-n', 'kube-system', 'get', 'lease', 'kube-controller-manager']);
    assert.notEqual(now.spec.holderIdentity, leaderA);
    assert.ok(tookOverMs < 25_000, `took over in ${tookOverMs} ms (lease duration 15 s)`);
    // B's controllers act: a new Deployment gets its ReplicaSet and pods.
    assert.equal((await b.k(['create', 'deployment', 'after', '--image=busybox', '--replicas=2'])).code, 0);
    await eventually('B created the ReplicaSet and its pods', async () => {
      const rs = (await b.k.json(['get', 'replicasets', '-l', 'app=after'])).items;
      const pods = (await b.k.json(['get', 'pods', '-l', 'app=after'])).items;
      return rs.length === 1 && pods.length === 2;
    }, 20_000);
    const kc = await readFile(join(b.dir, 'kubeconfig.yaml'), 'utf8');
    assert.match(kc, /server: https:\/\/127\.0\.0\.1:\d+/);
  });
});
