/**
 * Kubelet features end to end, on both runtimes, driven by the real kubectl: terminationMessagePath and
 * FallbackToLogsOnError (state and lastState), service environment variables (enableServiceLinks), dnsPolicy ClusterFirst
 * with skiff's cluster DNS (None + dnsConfig under cri), ephemeral containers
 * (`kubectl debug` with a command, `kubectl debug -i` attached, `kubectl logs -c`; `--target` sharing the target's pid
 * namespace under cri), and logs of a finished Job and
 * across a restart.
 *
 * Each describe() starts its own `skiff server` (embedded agent) with --cluster-cidr 10.62.0.0/16; they run one after
 * the other, so their nodes' /24 never coexist. Run from dist/ (spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-kubelet-features.e2e.test.js
 * Needs root and the CNI plugins (process), plus containerd and busybox-static (cri); skips otherwise (fails under
 * CI=true). Everything the nodes made is removed at the end, also after a failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerdMissing } from '../src/agent/runtime/cri/cri-test-env.js';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason, skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { hardCleanNode } from './helpers/node-leftovers.js';
import { busyboxMissing, writeTestImageArchive } from './helpers/oci-image.js';
import { stopChild, type ServerProcess } from './helpers/server-process.js';

const CLUSTER_CIDR = '10.62.0.0/16';
const suffix = randomBytes(3).toString('hex');
/** What a ClusterFirst pod's resolv.conf holds with skiff's cluster DNS at its default address (10.43.0.10). */
const clusterFirstResolvConf = (ns: string) => `search ${ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n`;

const processSkip = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local'],
    notRoot: 'the process runtime needs root; skipping',
    what: 'the process runtime cases',
  });
const criSkip = () => skipIfMissing(containerdMissing() ?? busyboxMissing());

/** One skiff server with its embedded agent, a namespace, and helpers over kubectl. */
class Node {
  server?: ServerProcess;
  k!: Kubectl;
  dir = '';
  readonly uids = new Set<string>();
  constructor(
    readonly runtime: 'process' | 'cri',
    readonly ns: string,
  ) {}

  async start(prepare?: (dir: string) => Promise<void>): Promise<void> {
    // Short: containerd's socket path must stay under 108 bytes.
    this.dir = await mkdtemp(`/tmp/skf-${this.runtime[0]}${suffix}-`);
    await prepare?.(this.dir);
    const node = `kf-${this.runtime}-${suffix}`;
    const args = ['--data-dir', this.dir, '--node-name', node, '--runtime', this.runtime, '--cluster-cidr', CLUSTER_CIDR, '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
    this.server = await startAgentServer(args, { timeoutMs: 60_000 });
    this.k = kubectlFor(join(this.dir, 'kubeconfig.yaml'));
    await createNamespace(this.k, this.ns);
  }

  async stop(): Promise<void> {
    try {
      if (this.server && this.server.child.exitCode === null && this.server.child.signalCode === null) {
        const r = await this.k(['-n', this.ns, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.uid}']).catch(() => undefined);
        for (const uid of r?.stdout.split(' ') ?? []) if (uid) this.uids.add(uid);
        await this.k(['delete', 'namespace', this.ns, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 });
        await stopChild(this.server.child);
      }
    } finally {
      if (this.dir && this.runtime === 'process') {
        const report = await hardCleanAgent({ dataDir: this.dir, podUids: this.uids });
        if (report.length) console.log(`hard clean of ${this.dir}:\n  ${report.join('\n  ')}`);
      } else if (this.dir) {
        await hardCleanNode(this.dir, [...this.uids]);
      }
    }
  }

  async apply(objs: object[]): Promise<void> {
    const r = await this.k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) });
    assert.equal(r.code, 0, r.stderr);
  }

  pod(name: string, spec: object): object {
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: this.ns }, spec: { terminationGracePeriodSeconds: 2, ...spec } };
  }

  async get(name: string): Promise<any> {
    const p = await this.k.json(['-n', this.ns, 'get', 'pod', name]);
    this.uids.add(p.metadata.uid);
    return p;
  }

  /** kubectl get -o jsonpath, the way a user reads one field. */
  async jsonpath(name: string, path: string): Promise<string> {
    const r = await this.k(['-n', this.ns, 'get', 'pod', name, '-o', `jsonpath={${path}}`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  async until<T>(what: string, name: string, fn: (p: any) => T | undefined | false, timeoutMs = 60_000): Promise<T> {
    return eventually(`${name}: ${what}`, async () => fn(await this.get(name)), timeoutMs);
  }

  async logs(args: string[]): Promise<string> {
    const r = await this.k(['-n', this.ns, 'logs', ...args]);
    assert.equal(r.code, 0, `kubectl logs ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  async events(name: string): Promise<Array<{ reason: string; type: string; message: string }>> {
    return (await this.k.json(['-n', this.ns, 'get', 'events', '--field-selector', `involvedObject.name=${name}`])).items;
  }

  /** KEY=value lines of `env` output as a map. */
  static env(text: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const line of text.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
    }
    return out;
  }
}

const terminated = (p: any, name: string, list = 'containerStatuses') => (p.status?.[list] ?? []).find((s: any) => s.name === name)?.state?.terminated;

describe('kubelet features on the process runtime', { skip: processSkip() }, () => {
  const node = new Node('process', `kf-proc-${suffix}`);
  let svcIP = '';

  before(async () => {
    await node.start();
    await node.apply([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'my-svc', namespace: node.ns }, spec: { selector: { app: 'none' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless', namespace: node.ns }, spec: { clusterIP: 'None', selector: { app: 'none' }, ports: [{ port: 80 }] } },
    ]);
    svcIP = (await node.k.json(['-n', node.ns, 'get', 'service', 'my-svc'])).spec.clusterIP;
    // The kubelet's Services informer sees the new Service within a watch event; give it a moment before pods start.
    await new Promise((r) => setTimeout(r, 500));
    await node.apply([
      node.pod('term', { restartPolicy: 'Never', containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', "printf 'all done: %s' $((6*7)) > /dev/termination-log; exit 3"] }] }),
      node.pod('term-logs', {
        restartPolicy: 'Never',
        containers: [{ name: 'app', image: 'busybox', terminationMessagePolicy: 'FallbackToLogsOnError', command: ['sh', '-c', 'echo first; echo last words >&2; exit 1'] }],
      }),
      node.pod('term-restart', {
        restartPolicy: 'OnFailure',
        containers: [{ name: 'app', image: 'busybox', terminationMessagePath: '/tmp/skiff-kf-msg', command: ['sh', '-c', 'echo "run at $(date +%s%N)"; printf bye > /tmp/skiff-kf-msg; exit 1'] }],
      }),
      node.pod('env', {
        restartPolicy: 'Never',
        containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', 'env; echo URL=$(MY_SVC_SERVICE_HOST)'], env: [{ name: 'MY_SVC_SERVICE_PORT', value: 'mine' }] }],
      }),
      node.pod('env-off', { restartPolicy: 'Never', enableServiceLinks: false, containers: [{ name: 'app', image: 'busybox', command: ['env'] }] }),
      node.pod('dns', { restartPolicy: 'Never', containers: [{ name: 'app', image: 'busybox', command: ['cat', '/etc/resolv.conf'] }] }),
      node.pod('target', { containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'] }] }),
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'once', namespace: node.ns },
        spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 2, containers: [{ name: 'job', image: 'busybox', command: ['sh', '-c', 'echo job output'] }] } } },
      },
    ]);
  });

  after(() => node.stop());

  it('terminationMessagePath: what the container wrote to /dev/termination-log is state.terminated.message', async () => {
    await node.until('terminated', 'term', (p) => terminated(p, 'app'));
    assert.equal(await node.jsonpath('term', '.status.containerStatuses[0].state.terminated.message'), 'all done: 42');
    assert.equal(await node.jsonpath('term', '.status.containerStatuses[0].state.terminated.exitCode'), '3');
  });

  it('FallbackToLogsOnError: an empty file and a failure give the log tail, both streams', async () => {
    await node.until('terminated', 'term-logs', (p) => terminated(p, 'app'));
    assert.equal(await node.jsonpath('term-logs', '.status.containerStatuses[0].state.terminated.message'), 'first\nlast words\n');
  });

  it('a custom terminationMessagePath, kept in lastState after the restart; logs --previous shows the run before', async () => {
    const p = await node.until('restarted once with the last run terminated', 'term-restart', (p) => {
      const s = p.status?.containerStatuses?.[0];
      return s?.restartCount >= 1 && s.lastState?.terminated ? s : undefined;
    });
    assert.equal(p.lastState.terminated.message, 'bye');
    const previous = await node.logs(['term-restart', '--previous']);
    assert.match(previous, /^run at \d+\n$/);
  });

  it('service environment variables for the namespace Services and kubernetes; explicit env wins; enableServiceLinks false', async () => {
    await node.until('finished', 'env', (p) => terminated(p, 'app'));
    const text = await node.logs(['env']);
    const env = Node.env(text);
    assert.equal(env.get('MY_SVC_SERVICE_HOST'), svcIP);
    assert.equal(env.get('MY_SVC_SERVICE_PORT'), 'mine', 'explicit env wins');
    assert.equal(env.get('MY_SVC_SERVICE_PORT_HTTP'), '80');
    assert.equal(env.get('MY_SVC_SERVICE_PORT_DNS'), '53');
    assert.equal(env.get('MY_SVC_PORT'), `tcp://${svcIP}:80`);
    assert.equal(env.get('MY_SVC_PORT_53_UDP_PROTO'), 'udp');
    assert.equal(env.get('MY_SVC_PORT_80_TCP_ADDR'), svcIP);
    assert.equal(env.get('URL'), svcIP, '$(VAR) expands service variables');
    assert.match(env.get('KUBERNETES_SERVICE_HOST') ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(env.get('KUBERNETES_SERVICE_PORT'), '443');
    assert.ok(![...env.keys()].some((k) => k.startsWith('HEADLESS_')), 'no variables for a headless Service');

    await node.until('finished', 'env-off', (p) => terminated(p, 'app'));
    const off = Node.env(await node.logs(['env-off']));
    assert.ok(off.has('KUBERNETES_SERVICE_HOST'), 'kubernetes always');
    assert.ok(![...off.keys()].some((k) => k.startsWith('MY_SVC_')), 'no namespace Services without service links');
  });

  // skiff server serves cluster DNS (issue 8), so the embedded kubelet has a cluster DNS address; a kubelet without one
  // (MissingClusterDNS, the host's resolver) is covered by the kubelet's table tests.
  it('dnsPolicy ClusterFirst: the cluster DNS address, the namespace search path and ndots:5, no MissingClusterDNS', async () => {
    await node.until('finished', 'dns', (p) => terminated(p, 'app'));
    assert.equal(await node.logs(['dns']), clusterFirstResolvConf(node.ns));
    assert.equal((await node.events('dns')).find((e) => e.reason === 'MissingClusterDNS'), undefined);
  });

  it('kubectl debug adds an ephemeral container: it runs once, is reported, and kubectl logs -c reads it', async () => {
    await node.until('running', 'target', (p) => p.status?.containerStatuses?.[0]?.state?.running);
    const r = await node.k(['-n', node.ns, 'debug', 'target', '--image=busybox', '-c', 'dbg1', '--', 'sh', '-c', 'echo from-debug; sleep 1; exit 4']);
    assert.equal(r.code, 0, r.stderr);
    const s = await node.until('dbg1 terminated', 'target', (p) => terminated(p, 'dbg1', 'ephemeralContainerStatuses'));
    assert.equal(s.exitCode, 4);
    assert.equal(await node.logs(['target', '-c', 'dbg1']), 'from-debug\n');
    // Never restarted (the pod's restartPolicy Always does not apply to it).
    await new Promise((r) => setTimeout(r, 3000));
    const p = await node.get('target');
    const st = p.status.ephemeralContainerStatuses.find((x: any) => x.name === 'dbg1');
    assert.equal(st.restartCount, 0);
    assert.equal(st.ready, false);
    assert.ok(st.state.terminated);
    assert.equal(p.status.phase, 'Running');
  });

  it('kubectl debug -i --target: stdin reaches the ephemeral container through attach, and its answer comes back', async () => {
    await node.until('running', 'target', (p) => p.status?.containerStatuses?.[0]?.state?.running);
    const r = await node.k(['-n', node.ns, 'debug', '-i', 'target', '--image=busybox', '--target=app', '-c', 'dbg2', '--', 'sh'], {
      input: 'echo answer-$((40+2)); exit 0\n',
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /answer-42/);
    const s = await node.until('dbg2 terminated', 'target', (p) => terminated(p, 'dbg2', 'ephemeralContainerStatuses'));
    assert.equal(s.exitCode, 0);
  });

  it('kubectl logs job/NAME shows a finished Job pod', async () => {
    const r = await node.k(['-n', node.ns, 'wait', '--for=condition=complete', 'job/once', '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await node.logs(['job/once']), 'job output\n');
  });
});

describe('kubelet features on the cri runtime', { skip: criSkip() }, () => {
  const node = new Node('cri', `kf-cri-${suffix}`);
  const IMAGE = 'docker.io/skiff-e2e/kubelet-features:v1';

  before(async () => {
    await node.start(async (dir) => {
      const images = join(dir, 'agent', 'images');
      await mkdir(images, { recursive: true });
      await writeTestImageArchive(images, IMAGE, { Cmd: ['/bin/sh'] });
    });
    await node.apply([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cri-svc', namespace: node.ns }, spec: { selector: { app: 'none' }, ports: [{ port: 8080 }] } },
    ]);
    await new Promise((r) => setTimeout(r, 500));
    await node.apply([
      node.pod('cri-once', {
        restartPolicy: 'Never',
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['192.0.2.53'], searches: ['example.test'], options: [{ name: 'ndots', value: '2' }] },
        containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'cat /etc/resolv.conf; env; printf cri-done > /dev/termination-log; exit 2'] }],
      }),
      node.pod('cri-target', { containers: [{ name: 'app', image: IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] }),
    ]);
  });

  after(() => node.stop());

  it('termination message, service environment and dnsPolicy None in an image container', async () => {
    const t = await node.until('terminated', 'cri-once', (p) => terminated(p, 'app'), 90_000);
    assert.equal(t.exitCode, 2);
    assert.equal(await node.jsonpath('cri-once', '.status.containerStatuses[0].state.terminated.message'), 'cri-done');
    const out = await node.logs(['cri-once']);
    assert.match(out, /^nameserver 192\.0\.2\.53$/m);
    assert.match(out, /^search example\.test$/m);
    assert.match(out, /^options ndots:2$/m);
    const env = Node.env(out);
    const svcIP = (await node.k.json(['-n', node.ns, 'get', 'service', 'cri-svc'])).spec.clusterIP;
    assert.equal(env.get('CRI_SVC_SERVICE_HOST'), svcIP);
    assert.equal(env.get('CRI_SVC_PORT_8080_TCP'), `tcp://${svcIP}:8080`);
    assert.ok(env.has('KUBERNETES_SERVICE_HOST'));
  });

  it('ClusterFirst: the cluster DNS resolv.conf inside the image; kubectl debug runs an ephemeral container', async () => {
    await node.until('running', 'cri-target', (p) => p.status?.containerStatuses?.[0]?.state?.running, 90_000);
    const r = await node.k(['-n', node.ns, 'exec', 'cri-target', '--', 'cat', '/etc/resolv.conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, clusterFirstResolvConf(node.ns));
    assert.ok(!(await node.events('cri-target')).some((e) => e.reason === 'MissingClusterDNS'));

    const d = await node.k(['-n', node.ns, 'debug', 'cri-target', `--image=${IMAGE}`, '--image-pull-policy=Never', '-c', 'dbg', '--', 'sh', '-c', 'echo cri-debug; exit 5']);
    assert.equal(d.code, 0, d.stderr);
    const s = await node.until('dbg terminated', 'cri-target', (p) => terminated(p, 'dbg', 'ephemeralContainerStatuses'));
    assert.equal(s.exitCode, 5);
    assert.equal(await node.logs(['cri-target', '-c', 'dbg']), 'cri-debug\n');
  });

  it('kubectl debug -i --target: the ephemeral container sees the target container\'s processes (its pid namespace)', async () => {
    // kubectl attaches after the container started; on a busy machine the input can arrive before the attach and be
    // lost (kubectl then prints nothing of it): a fresh ephemeral container is tried again, up to three.
    let r: Awaited<ReturnType<typeof node.k>> | undefined;
    for (const name of ['dbg2', 'dbg3', 'dbg4']) {
      r = await node.k(['-n', node.ns, 'debug', '-i', 'cri-target', `--image=${IMAGE}`, '--image-pull-policy=Never', '--target=app', '-c', name, '--', 'sh'], {
        input: 'echo "pid1=$(tr \'\\0\' \' \' < /proc/1/cmdline)"; exit 0\n',
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      if (/pid1=/.test(r.stdout)) break;
    }
    assert.match(r!.stdout, /pid1=sleep 3600/);
  });
});
