/**
 * The client suite over both transports against a real skiff server started in this process (HTTPS with the admin
 * certificate from the data dir's kubeconfig, and in-process through the same request pipeline), and over the
 * FakeClient, directly and as the FakeTransport behind a RestClient. All of them must behave the same: the transports
 * because the same server code answers them, the fake because controller tests trust it to behave as the server does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../test/helpers/test-server.js';
import type { StatusError } from '../api/status.js';
import { HttpsTransport, loadKubeconfig } from './https-transport.js';
import { Namespaces } from './resources.js';
import { RestClient } from './rest-client.js';
import { FakeClient } from './testing/fake-client.js';
import { FakeTransport } from './testing/fake-transport.js';
import { runTransportConformance, type ConformanceTarget } from './testing/transport-conformance.js';

describe('RestClient over both transports', () => {
  let s: TestServer;
  let https: HttpsTransport;
  const target = (client: () => RestClient) => (): ConformanceTarget => ({
    client: client(),
    watchCount: () => s.running.api.handler.watchCount,
    closeWatches: () => s.running.api.handler.closeWatches(),
    compact: async () => s.running.store.compact(await s.running.store.currentRevision()),
  });
  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    https = new HttpsTransport(await loadKubeconfig(s.kubeconfig));
  });
  after(async () => {
    https?.close();
    await s?.stop();
  });

  it('https: a bearer token authenticates; a wrong one is 401 Unauthorized', async () => {
    const opts = await loadKubeconfig(s.kubeconfig);
    // A service account token (TokenRequest); the cluster token is no identity (it only joins nodes).
    const tr = await s.request('POST', '/api/v1/namespaces/default/serviceaccounts/default/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} });
    assert.equal(tr.status, 201, tr.text);
    const good = new HttpsTransport({ server: opts.server, ca: opts.ca, token: tr.json.status.token });
    const bad = new HttpsTransport({ server: opts.server, ca: opts.ca, token: 'K10nope::server:nope' });
    const reviews = { group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false };
    try {
      const review = await new RestClient(good).create(reviews, '', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
      assert.equal((review as any).status.userInfo.username, 'system:serviceaccount:default:default');
      await assert.rejects(new RestClient(bad).get(Namespaces, '', 'default'), (e: StatusError) => e.code === 401 && e.reason === 'Unauthorized');
    } finally {
      good.close();
      bad.close();
    }
  });

  runTransportConformance('https', target(() => new RestClient(https)));
  runTransportConformance('in-process', target(() => new RestClient(s.running.api.inProcessTransport())));
});

describe('FakeClient', () => {
  const levers = (fake: FakeClient) => ({
    watchCount: () => fake.watchCount,
    closeWatches: () => fake.closeWatches(),
    compact: async () => fake.compact(),
  });
  const direct = new FakeClient();
  runTransportConformance('fake', () => ({ client: direct, ...levers(direct) }));
  // The same objects behind the wire format: paths, query parameters and Status bodies as a server sends them.
  const wired = new FakeClient();
  runTransportConformance('fake-transport', () => ({ client: new RestClient(new FakeTransport(wired)), ...levers(wired) }));
});
