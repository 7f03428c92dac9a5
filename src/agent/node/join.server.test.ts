/**
 * Joining a real API server (127.0.0.1:0, its own PKI): the right token gets node certificates with which the agent
 * registers its Node as system:node:<name>; a wrong token, a token of another cluster and a stolen node name are
 * refused with messages that say so; certificates are reused on restart.
 */
import https from 'node:https';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formatFullToken } from '../../api/cluster-token.js';
import { HttpsTransport } from '../../client/https-transport.js';
import { Nodes } from '../../client/resources.js';
import { RestClient } from '../../client/rest-client.js';
import { Authenticator } from '../../apiserver/auth/authenticator.js';
import { ensurePki, type Pki } from '../../apiserver/auth/pki.js';
import { defaultExtensions } from '../../apiserver/extensions.js';
import { resources } from '../../apiserver/registry/index.js';
import { startApiServer, type ApiServer } from '../../apiserver/server.js';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { sendTo } from '../../../test/helpers/api-server.js';
import type { Node } from '../simulated/objects.js';
import { readHostFacts } from './host-facts.js';
import { HostMeasurements } from './host-measurements.js';
import { fetchClusterRanges, joinCluster } from './join.js';
import { NodeReporter } from './node-reporter.js';
import { configureLogging } from '../../log/logger.js';

const SECRET = 'join-test-secret';
/** The server's agent token (--agent-token): it joins agents, nothing else. */
const AGENT_SECRET = 'join-test-agent-secret';
let api: ApiServer;
let pki: Pki;
let store: Store;
let url: string;
let token: string;
const dirs: string[] = [];

before(async () => {
  const serverDir = await mkdtemp(join(tmpdir(), 'skiff-join-server-'));
  dirs.push(serverDir);
  pki = await ensurePki(serverDir, { hostnames: [], ips: [] });
  store = await openStore('memory://');
  api = await startApiServer({
    store,
    resources,
    authenticator: new Authenticator({ caCertPem: pki.caCertPem }),
    tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
    port: 0,
    host: '127.0.0.1',
    extensions: defaultExtensions(resources),
    nodeJoin: { caCertPem: pki.caCertPem, caKeyPem: pki.caKeyPem, clusterToken: SECRET, agentToken: AGENT_SECRET, agentConfig: { clusterCIDRs: ['10.95.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] } },
  });
  url = `https://127.0.0.1:${api.port}`;
  token = formatFullToken(SECRET, pki.caHash);
});

after(async () => {
  await api.close();
  await store.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'skiff-join-'));
  dirs.push(d);
  return d;
}

test('the right token gets node certificates; with them the agent registers its Node as system:node:<name>', async () => {
  const dir = await dataDir();
  const creds = await joinCluster({ server: url, token, nodeName: 'worker-1', nodeIPs: ['127.0.0.1'], dataDir: dir });
  const client = new X509Certificate(creds.clientCert);
  assert.match(client.subject, /CN=system:node:worker-1/);
  assert.match(client.subject, /O=system:nodes/);
  const serving = new X509Certificate(creds.servingCert);
  assert.equal(serving.subjectAltName, 'DNS:worker-1, DNS:localhost, IP Address:127.0.0.1');
  assert.ok(serving.checkIssued(new X509Certificate(pki.caCertPem)));
  assert.equal((await stat(join(dir, 'agent', 'client-kubelet.key'))).mode & 0o777, 0o600);

  const api = new RestClient(new HttpsTransport({ server: url, ca: creds.ca, cert: creds.clientCert, key: creds.clientKey }));
  const review = (await api.create({ group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false }, '', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
    metadata: {},
  })) as { status?: { userInfo?: { username?: string; groups?: string[] } } };
  assert.equal(review.status?.userInfo?.username, 'system:node:worker-1');
  assert.ok(review.status?.userInfo?.groups?.includes('system:nodes'));

  const reporter = new NodeReporter({
    client: api,
    nodeName: 'worker-1',
    host: await readHostFacts(),
    measurements: new HostMeasurements({ dataDir: dir }),
    containerRuntimeVersion: 'process://0.1.0',
    nodeIPs: ['127.0.0.1'],
  });
  await reporter.start();
  const node = await api.get<Node>(Nodes, '', 'worker-1');
  assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  assert.match(node.status?.capacity?.memory ?? '', /^\d+Ki$/);
  assert.match(node.status?.allocatable?.['ephemeral-storage'] ?? '', /^\d+$/);
  assert.equal(node.status?.nodeInfo?.kubeletVersion, 'v1.32.0-skiff');
  await reporter.stop();
});

test('a restarted agent reuses its certificates', async () => {
  const dir = await dataDir();
  const first = await joinCluster({ server: url, token, nodeName: 'worker-2', dataDir: dir });
  const second = await joinCluster({ server: url, token, nodeName: 'worker-2', dataDir: dir });
  assert.equal(second.clientCert, first.clientCert);
  assert.equal(second.servingKey, first.servingKey);
  // A new node IP is not in the serving certificate: that one is replaced, the client one kept.
  const third = await joinCluster({ server: url, token, nodeName: 'worker-2', nodeIPs: ['10.9.9.9'], dataDir: dir });
  assert.equal(third.clientCert, first.clientCert);
  assert.notEqual(third.servingCert, first.servingCert);
  assert.match(new X509Certificate(third.servingCert).subjectAltName ?? '', /IP Address:10\.9\.9\.9/);
});

test('refusals say why: wrong token, another cluster\'s CA hash, a node name that belongs to another machine', async () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['wrong secret, bare form', async () => joinCluster({ server: url, token: 'not-the-token', nodeName: 'w', dataDir: await dataDir() }), /HTTP 401\): node join refused: the token is wrong/],
    ['wrong secret, K10 form', async () => joinCluster({ server: url, token: formatFullToken('nope', pki.caHash), nodeName: 'w', dataDir: await dataDir() }), /HTTP 401\): node join refused: the token is wrong/],
    ['another CA', async () => joinCluster({ server: url, token: formatFullToken(SECRET, 'a'.repeat(64)), nodeName: 'w', dataDir: await dataDir() }), /does not match the token's CA hash a{64}; refusing to join/],
  ];
  for (const [name, run, message] of cases) await assert.rejects(run(), { message }, name);

  await joinCluster({ server: url, token, nodeName: 'taken', dataDir: await dataDir() });
  await assert.rejects(joinCluster({ server: url, token, nodeName: 'taken', dataDir: await dataDir() }), {
    message: /HTTP 403\): Node password rejected, duplicate hostname .*delete the Secret kube-system\/taken\.node-password\.skiff/,
  });
});

test('the join endpoints answer only POST with the token; a raw request without it gets 401 JSON', async () => {
  const r = await sendTo(api.port, pki, 'POST', '/v1-skiff/client-kubelet.crt', 'x', { anonymous: true, contentType: 'application/pkcs10' });
  assert.equal(r.status, 401);
  assert.equal(r.json.reason, 'Unauthorized');
  assert.match(r.json.message, /no cluster token was presented/);
  const password = await readFile(join(dirs[1]!, 'agent', 'node-password'), 'utf8');
  assert.match(password, /^[0-9a-f]{32}\n$/);
});

test('the agent token (K10<hash>::node:<secret>, as k3s prints it) joins too; neither token is an API credential (401)', async () => {
  const agentToken = formatFullToken(AGENT_SECRET, pki.caHash, 'node');
  assert.match(agentToken, /^K10[0-9a-f]{64}::node:join-test-agent-secret$/);
  const creds = await joinCluster({ server: url, token: agentToken, nodeName: 'by-agent-token', dataDir: await dataDir() });
  assert.match(new X509Certificate(creds.clientCert).subject, /CN=system:node:by-agent-token/);
  for (const bearer of [agentToken, AGENT_SECRET, token, SECRET]) {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: api.port, path: '/api/v1/pods', ca: pki.caCertPem, agent: false, headers: { Authorization: `Bearer ${bearer}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 401, bearer.slice(0, 12));
  }
});

test('a bare token joins with a warning that the server\'s CA is not verified; the K10 form joins without one', async () => {
  const lines: string[] = [];
  configureLogging({ destination: { write: (line: string) => lines.push(line) } });
  try {
    await joinCluster({ server: url, token: SECRET, nodeName: 'bare', dataDir: await dataDir() });
    assert.ok(lines.some((l) => /the token has no CA hash .* trusting the CA the server presents/.test(l)), lines.join(''));
    lines.length = 0;
    await joinCluster({ server: url, token, nodeName: 'full', dataDir: await dataDir() });
    assert.ok(!lines.some((l) => /no CA hash/.test(l)), lines.join(''));
  } finally {
    configureLogging({});
  }
});

test("join hands the agent the server's --cluster-cidr and --service-cidr (GET /v1-skiff/config, token only)", async () => {
  const creds = await joinCluster({ server: url, token, nodeName: 'ranges', dataDir: await dataDir() });
  assert.deepEqual(creds.cluster, { clusterCIDRs: ['10.95.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] });
  await assert.rejects(fetchClusterRanges(url, 'not-the-token', pki.caCertPem), { message: /HTTP 401: .*the token is wrong/ });
  const raw = await sendTo(api.port, pki, 'GET', '/v1-skiff/config', undefined, { anonymous: true });
  assert.equal(raw.status, 401);
  const post = await sendTo(api.port, pki, 'POST', '/v1-skiff/config', '{}', { anonymous: true });
  assert.equal(post.status, 405);
});
