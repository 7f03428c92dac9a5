/**
 * Private registries in k3s's registries.yaml format (https://docs.k3s.io/installation/private-registry), turned into
 * what containerd 1.6 reads: one `certs.d/<host>/hosts.toml` per registry (mirrors as ordered `host` entries, TLS
 * files, skip_verify, plain-HTTP endpoints) and, for the pulls skiff makes, a CRI AuthConfig from `configs.<host>.auth`.
 *
 *   mirrors:
 *     docker.io:                       # "*" = every registry (containerd's _default directory)
 *       endpoint: ["http://127.0.0.1:5000", "https://mirror.example.com/some/path"]
 *   configs:
 *     mirror.example.com:
 *       auth: { username: u, password: p }          # or auth (base64 user:pass), identity_token
 *       tls: { ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, insecure_skip_verify: false }
 *
 * As in k3s: endpoints are tried in order, then the registry itself (its default endpoint); an endpoint URL with a
 * path gets `/v2` appended and `override_path = true`. k3s's `rewrite` needs its patched containerd and is refused
 * here with a warning.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createLogger } from '../../../log/logger.js';
import type { AuthConfig } from '../types.js';

const log = createLogger('registries');

export interface RegistryMirror {
  endpoint: string[];
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  identityToken?: string;
}

export interface RegistryTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecureSkipVerify?: boolean;
}

export interface RegistryConfigEntry {
  auth?: RegistryAuth;
  tls?: RegistryTls;
}

export interface RegistriesConfig {
  mirrors: Record<string, RegistryMirror>;
  configs: Record<string, RegistryConfigEntry>;
}

/** k3s's default path; a missing file there is not an error. */
export const DEFAULT_REGISTRIES_FILE = '/etc/skiff/registries.yaml';

function fail(source: string, path: string, message: string): never {
  throw new Error(`${source}: ${path}: ${message}`);
}

function optionalString(source: string, path: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(source, path, `must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function asObject(source: string, path: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(source, path, `must be a mapping, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

/** Parses and validates registries.yaml text; errors name the file and the field. */
export function parseRegistries(text: string, source = 'registries.yaml'): RegistriesConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const top = asObject(source, '(top level)', doc);
  const result: RegistriesConfig = { mirrors: {}, configs: {} };
  for (const [host, raw] of Object.entries(asObject(source, 'mirrors', top.mirrors))) {
    const mirror = asObject(source, `mirrors.${host}`, raw);
    if (mirror.rewrite !== undefined) log.warn('registries.yaml: mirrors.*.rewrite needs k3s\'s patched containerd and is ignored', { registry: host });
    const endpoints = mirror.endpoint ?? [];
    if (!Array.isArray(endpoints)) fail(source, `mirrors.${host}.endpoint`, 'must be a list of URLs');
    result.mirrors[host] = {
      endpoint: endpoints.map((e, i) => {
        const url = optionalString(source, `mirrors.${host}.endpoint[${i}]`, e) ?? '';
        const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `https://${url}`;
        try {
          const parsed = new URL(withScheme);
          if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
        } catch {
          fail(source, `mirrors.${host}.endpoint[${i}]`, `not an http(s) URL: ${JSON.stringify(url)}`);
        }
        return withScheme;
      }),
    };
  }
  for (const [host, raw] of Object.entries(asObject(source, 'configs', top.configs))) {
    const entry = asObject(source, `configs.${host}`, raw);
    const auth = entry.auth === undefined ? undefined : asObject(source, `configs.${host}.auth`, entry.auth);
    const tls = entry.tls === undefined ? undefined : asObject(source, `configs.${host}.tls`, entry.tls);
    const skip = tls?.insecure_skip_verify;
    if (skip !== undefined && typeof skip !== 'boolean') fail(source, `configs.${host}.tls.insecure_skip_verify`, 'must be true or false');
    result.configs[host] = {
      auth: auth && {
        username: optionalString(source, `configs.${host}.auth.username`, auth.username),
        password: optionalString(source, `configs.${host}.auth.password`, auth.password),
        auth: optionalString(source, `configs.${host}.auth.auth`, auth.auth),
        identityToken: optionalString(source, `configs.${host}.auth.identity_token`, auth.identity_token),
      },
      tls: tls && {
        caFile: optionalString(source, `configs.${host}.tls.ca_file`, tls.ca_file),
        certFile: optionalString(source, `configs.${host}.tls.cert_file`, tls.cert_file),
        keyFile: optionalString(source, `configs.${host}.tls.key_file`, tls.key_file),
        insecureSkipVerify: skip as boolean | undefined,
      },
    };
  }
  return result;
}

/** Reads `file`; undefined when it is the default path and absent (k3s: no file, no private registries). */
export async function loadRegistries(file: string): Promise<RegistriesConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file === DEFAULT_REGISTRIES_FILE) return undefined;
    throw new Error(`private registry file ${file}: ${(err as Error).message}`);
  }
  return parseRegistries(text, file);
}

/** The registry host of an image reference, as containerd's reference normalisation picks it (docker.io by default). */
export function registryHostOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return first;
  return 'docker.io';
}

const DEFAULT_SERVERS: Record<string, string> = { 'docker.io': 'https://registry-1.docker.io' };

const toml = (s: string): string => JSON.stringify(s);

function tlsLines(tls: RegistryTls | undefined): string[] {
  if (!tls) return [];
  const lines: string[] = [];
  if (tls.caFile) lines.push(`  ca = ${toml(tls.caFile)}`);
  if (tls.certFile && tls.keyFile) lines.push(`  client = [[${toml(tls.certFile)}, ${toml(tls.keyFile)}]]`);
  else if (tls.certFile) lines.push(`  client = ${toml(tls.certFile)}`);
  if (tls.insecureSkipVerify) lines.push('  skip_verify = true');
  return lines;
}

/** One hosts.toml per directory name under certs.d (a registry host, or `_default` for the "*" mirror). */
export function renderHostsFiles(config: RegistriesConfig): Map<string, string> {
  const files = new Map<string, string>();
  const registries = new Set([...Object.keys(config.mirrors), ...Object.keys(config.configs)]);
  // A configs entry for a mirror endpoint is applied inside the mirror's file; it needs no file of its own unless
  // images are also pulled from that host directly, which a file for it makes work too.
  for (const registry of registries) {
    const dir = registry === '*' ? '_default' : registry;
    const lines: string[] = [];
    let endpoints = config.mirrors[registry]?.endpoint ?? [];
    if (registry !== '*') {
      // An endpoint on the registry's own host (k3s's plain-HTTP recipe: `"reg:5000": endpoint: ["http://reg:5000"]`)
      // is the registry's server, not a mirror: otherwise a failed pull falls back to https://reg:5000 and reports
      // "server gave HTTP response to HTTPS client" instead of the registry's answer.
      const own = endpoints.find((e) => {
        const url = new URL(e);
        return url.host === registry && (url.pathname === '/' || url.pathname === '');
      });
      endpoints = endpoints.filter((e) => e !== own);
      const server = own ? new URL(own).origin : (DEFAULT_SERVERS[registry] ?? `https://${registry}`);
      lines.push(`server = ${toml(server)}`);
      lines.push(...tlsLines(config.configs[registry]?.tls).map((l) => l.trimStart()));
      lines.push('');
    }
    for (const endpoint of endpoints) {
      const url = new URL(endpoint);
      const hasPath = url.pathname !== '/' && url.pathname !== '';
      const base = `${url.protocol}//${url.host}${hasPath ? url.pathname.replace(/\/+$/, '') : ''}`;
      const hostUrl = hasPath && !base.endsWith('/v2') ? `${base}/v2` : base;
      lines.push(`[host.${toml(hostUrl)}]`);
      lines.push('  capabilities = ["pull", "resolve"]');
      if (hasPath) lines.push('  override_path = true');
      lines.push(...tlsLines(config.configs[url.host]?.tls));
      lines.push('');
    }
    files.set(dir, lines.join('\n'));
  }
  return files;
}

/** Replaces `certsDir` with the hosts.toml files of `config` (containerd re-reads them on every pull). */
export async function writeHostsFiles(certsDir: string, config: RegistriesConfig | undefined): Promise<void> {
  await rm(certsDir, { recursive: true, force: true });
  await mkdir(certsDir, { recursive: true });
  if (!config) return;
  for (const [dir, text] of renderHostsFiles(config)) {
    await mkdir(join(certsDir, dir), { recursive: true });
    await writeFile(join(certsDir, dir, 'hosts.toml'), text);
  }
}

/**
 * Credentials for pulling `image`: those of the first mirror endpoint that has some, else the registry's own. The
 * server address is set, so containerd offers them only to that host; it must be a URL, since containerd compares
 * its host part with the host it contacts (pkg/cri/server/image_pull.go ParseAuth).
 */
export function authForImage(config: RegistriesConfig | undefined, image: string): AuthConfig | undefined {
  if (!config) return undefined;
  const registry = registryHostOf(image);
  const endpoints = config.mirrors[registry]?.endpoint ?? config.mirrors['*']?.endpoint ?? [];
  const candidates = [...endpoints.map((e) => new URL(e).host), registry];
  for (const host of candidates) {
    const auth = config.configs[host]?.auth;
    if (!auth) continue;
    return {
      username: auth.username,
      password: auth.password,
      auth: auth.auth,
      identityToken: auth.identityToken,
      serverAddress: `https://${host}`,
    };
  }
  return undefined;
}
