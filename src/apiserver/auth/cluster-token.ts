/**
 * The cluster token (k3s `--token`): a shared secret that agents use to join and that also
 * authenticates as the cluster admin. Kept in `<data-dir>/server/token` with mode 0600.
 *
 * k3s prints and stores tokens in a "secure" form, `K10<sha256 of the CA certificate>::server:<secret>`,
 * so a joining node can check that the server it reached holds the expected CA before sending the
 * secret (k3s-io/docs: docs/cli/token.md). Both that form and the bare secret are accepted everywhere;
 * api/cluster-token.ts parses and formats them (the agent imports it too).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFullToken, parseToken, redactToken as redact } from '../../api/cluster-token.js';
import { writeFileAtomic } from './pki.js';

export interface ClusterToken {
  /** The bare secret; what the Authenticator compares against. */
  secret: string;
  /** The `K10…` form when a CA hash was given to ensureToken, else undefined. */
  full?: string;
  /** `<data-dir>/server/token`. */
  path: string;
  /** True when this call created a new random secret. */
  generated: boolean;
}

/**
 * Returns the cluster token: the `--token` value when given (persisted, replacing the file), else the
 * one already in `<dataDir>/server/token`, else a new random 32-byte hex secret (persisted).
 * With `caHash`, the file holds the full `K10…` form, as k3s writes it, so `cat` gives a joinable token.
 */
export async function ensureToken(dataDir: string, token?: string, caHash?: string): Promise<ClusterToken> {
  const serverDir = join(dataDir, 'server');
  const path = join(serverDir, 'token');
  await mkdir(serverDir, { recursive: true, mode: 0o700 });

  let secret: string;
  let generated = false;
  if (token !== undefined && token !== '') {
    const parsed = parseToken(token);
    if (parsed.caHash !== undefined && caHash !== undefined && parsed.caHash !== caHash.toLowerCase()) {
      throw new Error(`--token: the CA hash in the token does not match this server's CA (${redact(token)})`);
    }
    secret = parsed.secret;
  } else {
    const existing = await readTokenFile(path);
    if (existing !== undefined) {
      secret = parseToken(existing).secret;
    } else {
      secret = randomBytes(32).toString('hex');
      generated = true;
    }
  }

  const full = caHash === undefined ? undefined : formatFullToken(secret, caHash.toLowerCase());
  const content = `${full ?? secret}\n`;
  if ((await readTokenFile(path)) !== content.trim()) await writeFileAtomic(path, content, 0o600);
  else await chmod(path, 0o600);
  return { secret, full, path, generated };
}

async function readTokenFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value = text.trim();
  if (value === '') throw new Error(`token file ${path} is empty; remove it to generate a new token or pass --token`);
  return value;
}

export interface AgentToken {
  /** The bare secret agents present; equal to the cluster token's when no agent token was set. */
  secret: string;
  /** `<data-dir>/server/agent-token`. */
  path: string;
  /** True when the secret is an agent token of its own (it joins agents only). */
  separate: boolean;
}

/**
 * The agent token (k3s `--agent-token`): a secret that joins agents and nothing else — not servers, and it is no API
 * credential. Given, it is kept in `<data-dir>/server/agent-token` as `K10<CA hash>::node:<secret>` and replaces an
 * earlier one; not given, the file's is used; with neither, agents join with the cluster token, and the file holds
 * that token (as k3s writes it), so `cat agent-token` always gives what an agent needs.
 */
export async function ensureAgentToken(dataDir: string, cluster: ClusterToken, token?: string, caHash?: string): Promise<AgentToken> {
  const path = join(dataDir, 'server', 'agent-token');
  let secret: string;
  if (token !== undefined && token !== '') {
    const parsed = parseToken(token);
    if (parsed.caHash !== undefined && caHash !== undefined && parsed.caHash !== caHash.toLowerCase()) {
      throw new Error(`--agent-token: the CA hash in the token does not match this server's CA (${redact(token)})`);
    }
    secret = parsed.secret;
  } else {
    const existing = await readTokenFile(path);
    secret = existing === undefined ? cluster.secret : parseToken(existing).secret;
  }
  const separate = secret !== cluster.secret;
  const content = separate ? (caHash === undefined ? secret : formatFullToken(secret, caHash.toLowerCase(), 'node')) : (cluster.full ?? cluster.secret);
  if ((await readTokenFile(path)) !== content) await writeFileAtomic(path, `${content}\n`, 0o600);
  else await chmod(path, 0o600);
  return { secret, path, separate };
}
