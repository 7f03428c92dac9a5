/**
 * `skiff kubeconfig`: a client-certificate kubeconfig from the cluster CA that the real kubectl uses to authenticate as
 * the given user and groups (`kubectl auth whoami`), with the requested expiry; bad input gets a clear message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { kubeconfigCommand, parseExpiration } from '../src/cli/kubeconfig-command.js';
import { kubectlFor, kubectlSkip } from './helpers/kubectl.js';
import { SKIFF_BIN } from './helpers/server-process.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const run = promisify(execFile);

async function runCommand(argv: string[]) {
  let out = '';
  let err = '';
  const code = await kubeconfigCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('parseExpiration', () => {
  for (const [text, ms] of [['8h', 8 * 3600_000], ['30m', 1_800_000], ['1h30m', 5_400_000], ['90d', 90 * 86_400_000], ['45s', 45_000]] as const) {
    it(text, () => assert.equal(parseExpiration(text), ms));
  }
  for (const bad of ['', '10', 'h', '5x', '-1h', '0s', '1h junk']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseExpiration(bad), /invalid --expiration/));
  }
});

describe('skiff kubeconfig against a real server and kubectl', { skip: kubectlSkip() }, () => {
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer({ controlPlane: false });
  });
  after(async () => {
    await srv?.stop();
  });

  it('issues a kubeconfig that kubectl uses as the given user in the given groups, valid for the given time', async () => {
    const file = join(srv.dataDir, 'alice.yaml');
    const r = await runCommand(['--user', 'alice', '--group', 'dev', '-g', 'ops', '--expiration', '8h', '-o', file, '--data-dir', srv.dataDir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /Wrote kubeconfig .*alice\.yaml for user "alice" in groups dev, ops, valid until/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const doc = parseYaml(readFileSync(file, 'utf8'));
    // The server comes from the admin kubeconfig of the data dir.
    assert.equal(doc.clusters[0].cluster.server, srv.url);
    const cert = new X509Certificate(Buffer.from(doc.users[0].user['client-certificate-data'], 'base64'));
    const hours = (Date.parse(cert.validTo) - Date.now()) / 3600_000;
    assert.ok(hours > 7.9 && hours <= 8.01, `valid for 8 h, got ${hours}`);
    const ca = new X509Certificate(readFileSync(join(srv.dataDir, 'server', 'tls', 'server-ca.crt')));
    assert.ok(cert.verify(ca.publicKey), 'signed by the cluster CA');
    const who = await kubectlFor(file).json(['auth', 'whoami']);
    assert.equal(who.status.userInfo.username, 'alice');
    assert.deepEqual(who.status.userInfo.groups, ['dev', 'ops', 'system:authenticated']);
  });

  it('prints to stdout through the skiff CLI, with --server, and names in DN syntax stay one user', async () => {
    const { stdout } = await run(process.execPath, [SKIFF_BIN, 'kubeconfig', '--user', 'bob, O=system:masters', '--server', srv.url, '--data-dir', srv.dataDir]);
    const file = join(srv.dataDir, 'bob.yaml');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, stdout, { mode: 0o600 }));
    const who = await kubectlFor(file).json(['auth', 'whoami']);
    assert.equal(who.status.userInfo.username, 'bob, O=system:masters');
    assert.deepEqual(who.status.userInfo.groups, ['system:authenticated'], 'the comma does not smuggle in a group');
    const help = await run(process.execPath, [SKIFF_BIN, '--help']).catch((e) => e);
    assert.match(help.stdout, /kubeconfig/);
  });

  it('refuses a missing user, a bad expiration and a data dir without a CA, saying why', async () => {
    const noUser = await runCommand(['--data-dir', srv.dataDir]);
    assert.equal(noUser.code, 1);
    assert.match(noUser.err, /--user is required/);
    const bad = await runCommand(['--user', 'x', '--expiration', 'soon', '--data-dir', srv.dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /invalid --expiration "soon"/);
    const empty = join(srv.dataDir, 'nothing-here');
    const noCa = await runCommand(['--user', 'x', '--data-dir', empty]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.err, /no cluster CA in .*nothing-here\/server\/tls/);
    assert.equal(existsSync(empty), false);
  });
});
