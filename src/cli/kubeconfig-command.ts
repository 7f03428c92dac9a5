/**
 * `skiff kubeconfig --user NAME [--group G]... [--expiration D] [-o FILE] [--server URL] [--data-dir DIR]`: a
 * kubeconfig with a client certificate signed by the cluster CA (CN = NAME, one O per group), which the API server's
 * x509 authenticator reads as that user in those groups. What users otherwise do by hand with openssl or a CSR
 * (k3s users ask for it often). The certificate cannot be revoked: give it the shortest expiration that serves.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { issueClientCertificate } from '../apiserver/auth/pki.js';
import { defaultDataDir } from './flags.js';
import { renderKubeconfig, writeKubeconfig } from './kubeconfig.js';

export const KUBECONFIG_USAGE = `Usage: skiff kubeconfig --user NAME [--group GROUP]... [--expiration DURATION] [-o FILE] [--server URL] [--data-dir DIR]

Issues a kubeconfig whose client certificate, signed by the cluster CA in <data-dir>/server/tls, authenticates as
NAME in the given groups (CN=NAME, O=GROUP). Run on a server. Certificates cannot be revoked: keep the expiration short.

  --user, -u NAME          user name (required), e.g. alice
  --group, -g GROUP        a group of the user; repeat for several (e.g. --group dev --group system:masters)
  --expiration DURATION    validity, e.g. 8h, 30m, 90d (default 365d)
  -o, --output FILE        write the kubeconfig to FILE (mode 0600) instead of printing it
  --server URL             API server URL (default: the server of <data-dir>/kubeconfig.yaml, else https://127.0.0.1:6443)
  --data-dir, -d DIR       the server's data dir (default /var/lib/skiff as root, ~/.local/share/skiff otherwise)
`;

const DEFAULT_EXPIRATION_MS = 365 * 24 * 3600 * 1000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go-style durations (`1h30m`, `45m`, `10s`) plus days (`90d`). Throws on anything else or a non-positive value. */
export function parseExpiration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === '' || consumed !== text.length) throw new Error(`invalid --expiration ${JSON.stringify(text)}: use a duration such as 8h, 30m or 90d`);
  if (total < 1000) throw new Error(`invalid --expiration ${JSON.stringify(text)}: must be at least 1s`);
  return total;
}

export interface KubeconfigCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env?: NodeJS.ProcessEnv;
  now?: Date;
}

/** Runs the command; resolves with the exit code. */
export async function kubeconfigCommand(argv: string[], io: KubeconfigCommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        user: { type: 'string', short: 'u' },
        group: { type: 'string', short: 'g', multiple: true },
        expiration: { type: 'string' },
        output: { type: 'string', short: 'o' },
        server: { type: 'string' },
        'data-dir': { type: 'string', short: 'd' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`skiff kubeconfig: ${(err as Error).message}\n\n${KUBECONFIG_USAGE}`);
    return 1;
  }
  if (values.help) {
    io.stdout(KUBECONFIG_USAGE);
    return 0;
  }
  const user = values.user?.trim() ?? '';
  if (user === '') {
    io.stderr(`skiff kubeconfig: --user is required\n\n${KUBECONFIG_USAGE}`);
    return 1;
  }
  const groups = (values.group ?? []).map((g) => g.trim());
  if (groups.some((g) => g === '')) {
    io.stderr('skiff kubeconfig: --group must not be empty\n');
    return 1;
  }
  let validityMs = DEFAULT_EXPIRATION_MS;
  try {
    if (values.expiration !== undefined) validityMs = parseExpiration(values.expiration);
  } catch (err) {
    io.stderr(`skiff kubeconfig: ${(err as Error).message}\n`);
    return 1;
  }
  const env = io.env ?? process.env;
  const dataDir = resolve(values['data-dir'] ?? env.SKIFF_DATA_DIR ?? defaultDataDir({ uid: process.getuid?.() ?? 1000, home: homedir(), hostname: '', defaultConfigFile: '' }));
  const tls = join(dataDir, 'server', 'tls');
  let ca: { certPem: string; keyPem: string };
  try {
    ca = { certPem: await readFile(join(tls, 'server-ca.crt'), 'utf8'), keyPem: await readFile(join(tls, 'server-ca.key'), 'utf8') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? `no cluster CA in ${tls} (run this on a server, or give its --data-dir)` : e.code === 'EACCES' ? `cannot read the cluster CA in ${tls}: permission denied (run as the user that runs skiff server)` : e.message;
    io.stderr(`skiff kubeconfig: ${why}\n`);
    return 1;
  }
  const server = values.server ?? (await serverOfAdminKubeconfig(join(dataDir, 'kubeconfig.yaml'))) ?? 'https://127.0.0.1:6443';
  const now = io.now ?? new Date();
  const pair = await issueClientCertificate(ca, { user, groups, validityMs, now });
  const options = { server, caPem: ca.certPem, clientCertPem: pair.certPem, clientKeyPem: pair.keyPem };
  const until = new Date(now.getTime() + validityMs).toISOString();
  if (values.output) {
    await writeKubeconfig(resolve(values.output), { ...options, mode: 0o600 });
    io.stderr(`Wrote kubeconfig ${resolve(values.output)} for user ${JSON.stringify(user)}${groups.length ? ` in groups ${groups.join(', ')}` : ''}, valid until ${until}\n`);
  } else {
    io.stdout(renderKubeconfig(options));
  }
  return 0;
}

/** The server URL of the admin kubeconfig `skiff server` wrote, if it is there. */
export async function serverOfAdminKubeconfig(path: string): Promise<string | undefined> {
  try {
    const doc = parseYaml(await readFile(path, 'utf8')) as { clusters?: Array<{ cluster?: { server?: string } }> };
    return doc.clusters?.[0]?.cluster?.server;
  } catch {
    return undefined;
  }
}
