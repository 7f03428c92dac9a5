/**
 * The server bench/rbac.ts measures: a bare skiff API server (SQLite store in DIR, real TLS and client-certificate
 * authentication) with authorization `rbac` (Node, system:masters, RBAC: the default) or `always` (AlwaysAllow).
 * Prints `{"port":N}` once serving. Usage: node dist/bench/rbac-server.js DIR rbac|always
 */
import { join } from 'node:path';
import { Authenticator } from '../src/apiserver/auth/authenticator.js';
import { alwaysAllow } from '../src/apiserver/auth/authorizer.js';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { defaultExtensions } from '../src/apiserver/extensions.js';
import { resources } from '../src/apiserver/registry/index.js';
import { startApiServer } from '../src/apiserver/server.js';
import { openStore } from '../src/storage/open-store.js';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'rbac' && mode !== 'always')) throw new Error('usage: rbac-server.js DIR rbac|always');
const pki = await ensurePki(dir, { hostnames: [], ips: [] });
const store = await openStore(`sqlite://${join(dir, 'state.db')}`);
const api = await startApiServer({
  store,
  resources,
  authenticator: new Authenticator({ caCertPem: pki.caCertPem }),
  tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
  port: 0,
  host: '127.0.0.1',
  extensions: defaultExtensions(resources),
  ...(mode === 'always' ? { authorizer: alwaysAllow } : {}),
});
process.stdout.write(`${JSON.stringify({ port: api.port })}\n`);
process.on('SIGTERM', () => {
  void api.close().then(() => store.close()).finally(() => process.exit(0));
});
