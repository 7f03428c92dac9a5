/**
 * A bare API server whose pods/exec, attach, portforward, log and nodes/proxy go through the node proxy to a real agent
 * API server (AgentServer on 127.0.0.1:0) backed by host processes (HostProcessBackend), with a kubeconfig for
 * kubectl and @kubernetes/client-node. The agent serves with the cluster's serving certificate (it covers
 * 127.0.0.1) and the API server calls it with the admin certificate (system:masters).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { AgentServer } from '../src/agent/server/agent-server.js';
import { HostProcessBackend } from '../src/agent/server/host-process-backend.js';
import type { ConnectTarget } from '../src/apiserver/handlers/connect.js';
import { NodeProxy, nodeGetter } from '../src/apiserver/node-proxy/node-proxy.js';
import { resources } from '../src/apiserver/registry/index.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';

export interface NodeProxyCluster {
  bare: BareApiServer;
  agent: AgentServer;
  backend: HostProcessBackend;
  proxy: NodeProxy;
  dir: string;
  kubeconfig: string;
  nodeName: string;
  /** Creates the pod bound to the node, marks it Running, and starts its containers on the host. */
  addPod(pod: Pod): Promise<Pod>;
  stop(): Promise<void>;
}

export async function startNodeProxyCluster(opts: { portMap?: Record<number, number> } = {}): Promise<NodeProxyCluster> {
  const targets = new Map<string, ConnectTarget>();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-node-proxy-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rm(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const bare = await startBareApiServer({ server: { connectTargets: targets } });
    cleanups.push(() => bare.stop());
    const proxy = new NodeProxy({
      getNode: nodeGetter(bare.api.ops, resources),
      tls: { ca: bare.pki.caCertPem, cert: bare.pki.adminCertPem, key: bare.pki.adminKeyPem },
      timeoutMs: 10_000,
    });
    cleanups.push(() => proxy.close());
    for (const [k, v] of proxy.targets) targets.set(k, v);
    const backend = new HostProcessBackend({ dir: join(dir, 'pods'), portMap: opts.portMap });
    cleanups.push(() => backend.close());
    const agent = new AgentServer({ backend, tls: { ca: bare.pki.caCertPem, cert: bare.pki.servingCertPem, key: bare.pki.servingKeyPem }, host: '127.0.0.1', port: 0 });
    await agent.start();
    cleanups.push(() => agent.close());

    const nodeName = 'node-a';
    const created = await bare.send('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } });
    if (created.status !== 201) throw new Error(`create node: ${created.status} ${created.text}`);
    const node = created.json;
    node.status = {
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: 'localhost' },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: agent.port } },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    };
    const updated = await bare.send('PUT', `/api/v1/nodes/${nodeName}/status`, node);
    if (updated.status !== 200) throw new Error(`node status: ${updated.status} ${updated.text}`);

    const kubeconfig = join(dir, 'kubeconfig.yaml');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: c\n  cluster:\n    server: https://127.0.0.1:${bare.api.port}\n    certificate-authority-data: ${b64(bare.pki.caCertPem)}`,
        'users:',
        `- name: u\n  user:\n    client-certificate-data: ${b64(bare.pki.adminCertPem)}\n    client-key-data: ${b64(bare.pki.adminKeyPem)}`,
        'contexts:',
        '- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default',
        'current-context: c',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );

    return {
      bare,
      agent,
      backend,
      proxy,
      dir,
      kubeconfig,
      nodeName,
      async addPod(pod) {
        const ns = pod.metadata?.namespace ?? 'default';
        const body = { apiVersion: 'v1', kind: 'Pod', ...pod, metadata: { namespace: ns, ...pod.metadata }, spec: { nodeName, ...pod.spec } };
        const c = await bare.send('POST', `/api/v1/namespaces/${ns}/pods`, body);
        if (c.status !== 201) throw new Error(`create pod: ${c.status} ${c.text}`);
        const p = c.json;
        p.status = { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
        const u = await bare.send('PUT', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status`, p);
        if (u.status !== 200) throw new Error(`pod status: ${u.status} ${u.text}`);
        await backend.addPod(u.json);
        return u.json;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
