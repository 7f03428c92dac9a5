/**
 * `skiff certificate check|rotate [--data-dir DIR]` (k3s's `k3s certificate`): the certificates a server and its node
 * agent keep in <data-dir>, with their expiry; and rotation on demand. skiff renews every leaf certificate at start
 * once it is within 90 days of expiry; `rotate` makes the next start renew them all now: with the server stopped, it
 * copies <data-dir>/server/tls to tls-<unix time> and removes the leaf certificates and their keys (never the cluster CA
 * or the service-account signing key, which would invalidate every agent and token).
 */
import { X509Certificate } from 'node:crypto';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RENEW_BEFORE_DAYS } from '../apiserver/auth/pki.js';
import { defaultDataDir } from './flags.js';
import { serverOfAdminKubeconfig } from './kubeconfig-command.js';

export const CERTIFICATE_USAGE = `Usage: skiff certificate check|rotate [--data-dir DIR]

  check    every certificate under <data-dir>/server/tls and <data-dir>/agent: subject, usages, expiry and status
           (OK, WARNING within ${RENEW_BEFORE_DAYS} days of expiry: renewed at the next start, EXPIRED, NOT YET VALID)
  rotate   with skiff stopped: back up <data-dir>/server/tls to tls-<unix time> and remove the leaf certificates, so
           the next start issues new ones (the cluster CA and the service-account key are kept)

  --data-dir, -d DIR   the data dir (default /var/lib/skiff as root, ~/.local/share/skiff otherwise)
`;

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  now?: Date;
}

/** Files that are not leaf certificates: the CA (its key signs everything) and the service-account signing key. */
const KEEP = new Set(['server-ca.crt', 'server-ca.key', 'service.key', 'service.pub']);

interface CertRow {
  file: string;
  subject: string;
  usages: string;
  expires: Date;
  status: 'OK' | 'WARNING' | 'EXPIRED' | 'NOT YET VALID';
  residual: string;
}

export async function certificateCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    io.stderr(`skiff certificate: ${(err as Error).message}\n\n${CERTIFICATE_USAGE}`);
    return 1;
  }
  if (parsed.values.help) {
    io.stdout(CERTIFICATE_USAGE);
    return 0;
  }
  const [sub, ...extra] = parsed.positionals;
  if ((sub !== 'check' && sub !== 'rotate') || extra.length) {
    io.stderr(`skiff certificate: ${sub === undefined ? 'a subcommand is required' : extra.length ? `unexpected arguments ${extra.join(' ')}` : `unknown subcommand ${JSON.stringify(sub)}`}\n\n${CERTIFICATE_USAGE}`);
    return 1;
  }
  const dataDir = resolve(parsed.values['data-dir'] ?? process.env.SKIFF_DATA_DIR ?? defaultDataDir({ uid: process.getuid?.() ?? 1000, home: homedir(), hostname: '', defaultConfigFile: '' }));
  const now = io.now ?? new Date();
  const dirs = [join(dataDir, 'server', 'tls'), join(dataDir, 'agent')];
  if (sub === 'check') {
    const rows: CertRow[] = [];
    for (const dir of dirs) rows.push(...(await certificatesIn(dir, now)));
    if (rows.length === 0) {
      io.stderr(`skiff certificate check: no certificates under ${dirs.join(' or ')} (give the data dir with --data-dir)\n`);
      return 1;
    }
    io.stdout(table(rows));
    return rows.some((r) => r.status === 'EXPIRED') ? 2 : 0;
  }
  // rotate
  const tls = dirs[0]!;
  const files = await readdir(tls).catch(() => [] as string[]);
  if (!files.includes('server-ca.crt')) {
    io.stderr(`skiff certificate rotate: no server certificates in ${tls} (give the server's data dir with --data-dir)\n`);
    return 1;
  }
  const running = await serverAnswers(join(dataDir, 'kubeconfig.yaml'), await readFile(join(tls, 'server-ca.crt'), 'utf8'));
  if (running) {
    io.stderr(`skiff certificate rotate: a server is running at ${running}; stop it first (certificates are renewed when it starts)\n`);
    return 1;
  }
  const backup = join(dataDir, 'server', `tls-${Math.floor(now.getTime() / 1000)}`);
  await cp(tls, backup, { recursive: true, preserveTimestamps: true });
  const leaves = files.filter((f) => (f.endsWith('.crt') || f.endsWith('.key')) && !KEEP.has(f));
  for (const f of leaves) await rm(join(tls, f), { force: true });
  const agentDir = dirs[1]!;
  const agentLeaves = (await readdir(agentDir).catch(() => [] as string[])).filter((f) => /^(client|serving)-kubelet\.(crt|key)$/.test(f));
  for (const f of agentLeaves) await rm(join(agentDir, f), { force: true });
  io.stdout(
    `Backed up ${tls} to ${backup}\n` +
      `Removed ${[...leaves.map((f) => join(tls, f)), ...agentLeaves.map((f) => join(agentDir, f))].join(', ') || 'nothing'}\n` +
      'Start skiff again to issue new certificates (the cluster CA is unchanged: kubeconfigs issued by it stay valid, agents keep joining)\n',
  );
  return 0;
}

async function certificatesIn(dir: string, now: Date): Promise<CertRow[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.crt')).sort();
  const rows: CertRow[] = [];
  for (const name of names) {
    const pem = await readFile(join(dir, name), 'utf8');
    // The first certificate of the file (a chain's leaf).
    const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
    if (!first) continue;
    const cert = new X509Certificate(first);
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    const left = to.getTime() - now.getTime();
    const status = now < from ? 'NOT YET VALID' : left <= 0 ? 'EXPIRED' : left < RENEW_BEFORE_DAYS * 86_400_000 ? 'WARNING' : 'OK';
    const usages = cert.ca ? 'CertSign' : (cert.keyUsage ?? []).map((u) => (u === '1.3.6.1.5.5.7.3.1' ? 'ServerAuth' : u === '1.3.6.1.5.5.7.3.2' ? 'ClientAuth' : u)).join(',') || '-';
    rows.push({ file: join(dir, name), subject: cert.subject.replace(/\n/g, ','), usages, expires: to, status, residual: residual(left) });
  }
  return rows;
}

function residual(ms: number): string {
  if (ms <= 0) return 'expired';
  const days = Math.floor(ms / 86_400_000);
  if (days >= 365) return `${Math.floor(days / 365)}y${days % 365}d`;
  if (days >= 1) return `${days}d`;
  return `${Math.floor(ms / 3_600_000)}h`;
}

function table(rows: CertRow[]): string {
  const cells = [['FILENAME', 'SUBJECT', 'USAGES', 'EXPIRES', 'RESIDUAL TIME', 'STATUS'], ...rows.map((r) => [r.file, r.subject, r.usages, r.expires.toISOString().replace('.000Z', 'Z'), r.residual, r.status])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => `${c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

/** The server URL when a skiff server answers /livez there with this CA, else undefined. */
async function serverAnswers(kubeconfig: string, ca: string): Promise<string | undefined> {
  const server = await serverOfAdminKubeconfig(kubeconfig);
  if (!server) return undefined;
  return new Promise((done) => {
    const req = request(new URL('/livez', server), { ca, timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode !== undefined ? server : undefined);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(undefined));
    req.end();
  });
}
