/**
 * `skiff secrets-encrypt status|rotate-keys|reencrypt [--data-dir DIR] [--server URL]` (k3s's command): asks the
 * running server, as the cluster admin (the client certificate in <data-dir>/server/tls), through its
 * /v1-skiff/encrypt/* endpoints (storage/encryption/secrets-encryption.ts). The server must run with
 * --secrets-encryption.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ENCRYPTION_PATHS, type EncryptionStatus } from '../storage/encryption/secrets-encryption.js';
import { defaultDataDir } from './flags.js';
import { serverOfAdminKubeconfig } from './kubeconfig-command.js';

export const SECRETS_ENCRYPT_USAGE = `Usage: skiff secrets-encrypt status|rotate-keys|reencrypt [--data-dir DIR] [--server URL]

Asks a server running with --secrets-encryption, as the cluster admin:
  status        whether Secrets are encrypted at rest, the keys, and how many stored values a reencrypt would rewrite
  rotate-keys   a new AES-CBC key becomes the active one (the previous one is kept to read), and every Secret is
                rewritten with it
  reencrypt     every Secret not sealed with the active key (written before encryption was on, or with an older key)
                is rewritten with it

  --data-dir, -d DIR   the server's data dir (default /var/lib/skiff as root, ~/.local/share/skiff otherwise)
  --server URL         API server URL (default: the server of <data-dir>/kubeconfig.yaml, else https://127.0.0.1:6443)
`;

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export async function secretsEncryptCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string', short: 'd' }, server: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    io.stderr(`skiff secrets-encrypt: ${(err as Error).message}\n\n${SECRETS_ENCRYPT_USAGE}`);
    return 1;
  }
  const [sub, ...extra] = parsed.positionals;
  if (parsed.values.help) {
    io.stdout(SECRETS_ENCRYPT_USAGE);
    return 0;
  }
  if (sub !== 'status' && sub !== 'rotate-keys' && sub !== 'reencrypt') {
    io.stderr(`skiff secrets-encrypt: ${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`}\n\n${SECRETS_ENCRYPT_USAGE}`);
    return 1;
  }
  if (extra.length) {
    io.stderr(`skiff secrets-encrypt ${sub}: unexpected arguments ${extra.join(' ')}\n`);
    return 1;
  }
  const dataDir = resolve(parsed.values['data-dir'] ?? process.env.SKIFF_DATA_DIR ?? defaultDataDir({ uid: process.getuid?.() ?? 1000, home: homedir(), hostname: '', defaultConfigFile: '' }));
  const tls = join(dataDir, 'server', 'tls');
  let creds: { ca: string; cert: string; key: string };
  try {
    const [ca, cert, key] = await Promise.all(['server-ca.crt', 'client-admin.crt', 'client-admin.key'].map((f) => readFile(join(tls, f), 'utf8')));
    creds = { ca: ca!, cert: cert!, key: key! };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(`skiff secrets-encrypt: ${e.code === 'ENOENT' ? `no admin credentials in ${tls} (run this on a server, or give its --data-dir)` : e.code === 'EACCES' ? `cannot read ${e.path}: permission denied (run as the user that runs skiff server)` : e.message}\n`);
    return 1;
  }
  const server = parsed.values.server ?? (await serverOfAdminKubeconfig(join(dataDir, 'kubeconfig.yaml'))) ?? 'https://127.0.0.1:6443';
  const path = sub === 'status' ? ENCRYPTION_PATHS.status : sub === 'rotate-keys' ? ENCRYPTION_PATHS.rotateKeys : ENCRYPTION_PATHS.reencrypt;
  let reply: { code: number; body: string };
  try {
    reply = await call(new URL(path, server), sub === 'status' ? 'GET' : 'POST', creds);
  } catch (err) {
    io.stderr(`skiff secrets-encrypt: cannot reach the server at ${server}: ${(err as Error).message}\n`);
    return 1;
  }
  if (reply.code === 404) {
    io.stderr(`skiff secrets-encrypt: the server at ${server} does not encrypt secrets (start it with --secrets-encryption)\n`);
    return 1;
  }
  let body: any;
  try {
    body = JSON.parse(reply.body);
  } catch {
    body = { message: reply.body };
  }
  if (reply.code !== 200) {
    io.stderr(`skiff secrets-encrypt: ${body.message ?? `HTTP ${reply.code}`}\n`);
    return 1;
  }
  if (sub === 'status') io.stdout(renderStatus(body as EncryptionStatus));
  else if (sub === 'rotate-keys') io.stdout(`Rotated to key ${body.key}; ${body.rewritten} of ${body.scanned} stored values rewritten with it\n`);
  else io.stdout(`Re-encrypted: ${body.rewritten} of ${body.scanned} stored values rewritten with the active key\n`);
  return 0;
}

/** k3s's status layout, with skiff's count of stale values. */
export function renderStatus(s: EncryptionStatus): string {
  const rows = s.keys.map((k) => [k.active ? ' *' : '', k.type, k.name]);
  const widths = [6, Math.max(8, ...rows.map((r) => r[1]!.length)), 4];
  const line = (cells: string[]) => `${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return [
    `Encryption Status: Enabled\n`,
    `Current Rotation Stage: ${s.stage}\n`,
    `Encrypted resources: ${s.resources.join(', ')}\n`,
    `Stored values not sealed with the active key: ${s.stale} of ${s.scanned}${s.stale ? ' (skiff secrets-encrypt reencrypt rewrites them)' : ''}\n`,
    `Config: ${s.configFile}\n`,
    '\n',
    line(['Active', 'Key Type', 'Name']),
    line(['------', '--------', '----']),
    ...rows.map(line),
  ].join('');
}

function call(url: URL, method: string, creds: { ca: string; cert: string; key: string }): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: creds.ca, cert: creds.cert, key: creds.key, timeout: 600_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
