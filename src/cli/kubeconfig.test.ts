import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request, type RequestOptions } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensurePki, type Pki } from '../apiserver/auth/pki.js';
import { Authenticator } from '../apiserver/auth/authenticator.js';
import { kubeconfigServerUrl, writeKubeconfig } from './kubeconfig.js';

describe('writeKubeconfig', () => {
  let dir: string;
  let pki: Pki;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-kubeconfig-'));
    pki = await ensurePki(join(dir, 'data'), {});
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const creds = () => ({ caPem: pki.caCertPem, clientCertPem: pki.adminCertPem, clientKeyPem: pki.adminKeyPem });

  it('writes a k3s-shaped kubeconfig with mode 0600, creating parent folders', async () => {
    const path = join(dir, 'a', 'b', 'kubeconfig.yaml');
    await writeKubeconfig(path, { server: 'https://127.0.0.1:6443', ...creds() });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const doc = parseYaml(await readFile(path, 'utf8'));
    assert.equal(doc.apiVersion, 'v1');
    assert.equal(doc.kind, 'Config');
    assert.equal(doc['current-context'], 'default');
    assert.deepEqual(doc.contexts, [{ name: 'default', context: { cluster: 'default', user: 'default' } }]);
    assert.equal(doc.clusters[0].name, 'default');
    assert.equal(doc.clusters[0].cluster.server, 'https://127.0.0.1:6443');
    assert.equal(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), pki.caCertPem);
    assert.equal(doc.users[0].name, 'default');
    assert.equal(Buffer.from(doc.users[0].user['client-certificate-data'], 'base64').toString(), pki.adminCertPem);
    assert.equal(Buffer.from(doc.users[0].user['client-key-data'], 'base64').toString(), pki.adminKeyPem);
  });

  it('replaces an existing file and its mode, leaving no temporary files', async () => {
    const path = join(dir, 'existing.yaml');
    await writeFile(path, 'old content');
    await chmod(path, 0o666);
    await writeKubeconfig(path, { server: 'https://10.0.0.1:6443', ...creds(), mode: 0o640 });
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.equal(parseYaml(await readFile(path, 'utf8')).clusters[0].cluster.server, 'https://10.0.0.1:6443');
    await writeKubeconfig(path, { server: 'https://10.0.0.1:6443', ...creds() });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('.tmp')), []);
  });

  /** A TLS server that answers every request with the authenticated user as JSON. */
  async function whoamiServer(): Promise<{ port: number; close: () => void }> {
    const authn = new Authenticator({ caCertPem: pki.caCertPem });
    const server = createServer(
      { key: pki.servingKeyPem, cert: pki.servingCertPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        Promise.resolve().then(() => authn.authenticate(req)).then(
          (user) => res.end(JSON.stringify(user ?? null)),
          (err: unknown) => res.writeHead(401).end(String(err)),
        );
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, close: () => server.close() };
  }

  it('leaves a file with the same content untouched (a restart on a full disk needs no space), fixing only its mode', async () => {
    const path = join(dir, 'same', 'kubeconfig.yaml');
    assert.equal(await writeKubeconfig(path, { server: 'https://127.0.0.1:6443', ...creds() }), true);
    const first = await stat(path);
    await chmod(path, 0o644);
    assert.equal(await writeKubeconfig(path, { server: 'https://127.0.0.1:6443', ...creds() }), false);
    const second = await stat(path);
    assert.equal(second.ino, first.ino, 'the file was replaced');
    assert.equal(second.mtimeMs, first.mtimeMs, 'the file was rewritten');
    assert.equal(second.mode & 0o777, 0o600);
    // A different server URL is a different file.
    assert.equal(await writeKubeconfig(path, { server: 'https://127.0.0.1:6444', ...creds() }), true);
    assert.match(await readFile(path, 'utf8'), /127\.0\.0\.1:6444/);
  });

  it('is loaded by @kubernetes/client-node and authenticates as system:admin over TLS', async () => {
    const { port, close } = await whoamiServer();
    try {
      const path = join(dir, 'client-node.yaml');
      await writeKubeconfig(path, { server: kubeconfigServerUrl('0.0.0.0', port), ...creds() });

      const kc = new KubeConfig();
      kc.loadFromFile(path);
      assert.equal(kc.getCurrentContext(), 'default');
      assert.equal(kc.getCurrentCluster()?.server, `https://127.0.0.1:${port}`);

      const opts: RequestOptions = { method: 'GET', path: '/whoami', host: '127.0.0.1', port, agent: false };
      await kc.applyToHTTPSOptions(opts);
      const req = request(opts);
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      let body = '';
      for await (const chunk of res) body += chunk;
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse(body), { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
    } finally {
      close();
    }
  });

  // Go's TLS stack (kubectl) is stricter than Node's about certificates, so try the real client when present.
  const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
  it('is used by the real kubectl, which verifies the serving certificate', { skip: kubectl === undefined && 'kubectl not installed' }, async () => {
    const { port, close } = await whoamiServer();
    try {
      const path = join(dir, 'kubectl.yaml');
      await writeKubeconfig(path, { server: kubeconfigServerUrl('0.0.0.0', port), ...creds() });
      const { stdout } = await promisify(execFile)(kubectl!, ['--kubeconfig', path, 'get', '--raw', '/whoami'], { timeout: 20000 });
      assert.deepEqual(JSON.parse(stdout), { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
    } finally {
      close();
    }
  });
});

describe('kubeconfigServerUrl', () => {
  const cases: Array<[string, number, string]> = [
    ['0.0.0.0', 6443, 'https://127.0.0.1:6443'],
    ['127.0.0.1', 6443, 'https://127.0.0.1:6443'],
    ['::', 7443, 'https://127.0.0.1:7443'],
    ['192.0.2.4', 6443, 'https://192.0.2.4:6443'],
    ['2001:db8::4', 6443, 'https://[2001:db8::4]:6443'],
  ];
  for (const [bind, port, want] of cases) {
    it(`${bind}:${port} -> ${want}`, () => assert.equal(kubeconfigServerUrl(bind, port), want));
  }
});
