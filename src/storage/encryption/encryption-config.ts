/**
 * kube-apiserver's EncryptionConfiguration (apiserver.config.k8s.io/v1): which resources are encrypted at rest, and
 * with which providers. The first provider of a resource encrypts what is written; every provider listed may decrypt
 * what is read (so a key being rotated out stays readable); `identity` reads and writes plain text.
 *
 *   { "kind": "EncryptionConfiguration", "apiVersion": "apiserver.config.k8s.io/v1",
 *     "resources": [{ "resources": ["secrets"],
 *                     "providers": [{ "aescbc": { "keys": [{ "name": "k1", "secret": "<32 bytes, base64>" }] } },
 *                                   { "identity": {} }] }] }
 *
 * Providers: aescbc and aesgcm (16, 24 or 32-byte keys) and identity. secretbox and kms are refused with a message
 * (skiff does not implement them). The file may be JSON or YAML, as kube-apiserver reads either.
 */
import { parse as parseYaml } from 'yaml';

export type ProviderType = 'aescbc' | 'aesgcm' | 'identity';

export interface EncryptionKey {
  name: string;
  /** The raw key (16, 24 or 32 bytes). */
  secret: Buffer;
}

export interface ProviderConfig {
  type: ProviderType;
  /** aescbc and aesgcm: in the order given; the first one encrypts. */
  keys: EncryptionKey[];
}

export interface ResourceRule {
  /** As written: `secrets`, `configmaps`, `deployments.apps`, `*.apps`, `*.` (every core resource), `*.*`. */
  resources: string[];
  providers: ProviderConfig[];
}

export interface EncryptionConfig {
  resources: ResourceRule[];
}

export class EncryptionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionConfigError';
  }
}

const KEY_NAME = /^[A-Za-z0-9_.-]+$/;
const UNSUPPORTED = new Set(['secretbox', 'kms']);

/** Parses and validates the file's text; errors name the field, as kube-apiserver's validation does. */
export function parseEncryptionConfig(text: string, source = 'encryption configuration'): EncryptionConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new EncryptionConfigError(`${source}: not JSON or YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new EncryptionConfigError(`${source}: expected an EncryptionConfiguration object`);
  if (doc.kind !== 'EncryptionConfiguration') throw new EncryptionConfigError(`${source}: kind must be EncryptionConfiguration, not ${JSON.stringify(doc.kind)}`);
  if (doc.apiVersion !== 'apiserver.config.k8s.io/v1' && doc.apiVersion !== 'apiserver.config.k8s.io/v1beta1') {
    throw new EncryptionConfigError(`${source}: apiVersion must be apiserver.config.k8s.io/v1, not ${JSON.stringify(doc.apiVersion)}`);
  }
  if (!Array.isArray(doc.resources) || doc.resources.length === 0) throw new EncryptionConfigError(`${source}: resources: Required value: at least one resource rule`);
  const seen = new Set<string>();
  const resources = doc.resources.map((r: unknown, i: number): ResourceRule => {
    const at = `resources[${i}]`;
    if (!isRecord(r)) throw new EncryptionConfigError(`${source}: ${at}: expected an object`);
    if (!Array.isArray(r.resources) || r.resources.length === 0) throw new EncryptionConfigError(`${source}: ${at}.resources: Required value: at least one resource`);
    const names = r.resources.map((name: unknown, j: number) => {
      if (typeof name !== 'string' || name === '') throw new EncryptionConfigError(`${source}: ${at}.resources[${j}]: Invalid value: resource names are strings`);
      if (name !== name.toLowerCase()) throw new EncryptionConfigError(`${source}: ${at}.resources[${j}]: Invalid value: ${JSON.stringify(name)}: resource name must be lower case`);
      if (seen.has(name)) throw new EncryptionConfigError(`${source}: ${at}.resources[${j}]: Duplicate value: ${JSON.stringify(name)}`);
      seen.add(name);
      return name;
    });
    if (!Array.isArray(r.providers) || r.providers.length === 0) throw new EncryptionConfigError(`${source}: ${at}.providers: Required value: at least one provider`);
    const providers = r.providers.map((p: unknown, j: number) => parseProvider(p, `${source}: ${at}.providers[${j}]`));
    return { resources: names, providers };
  });
  return { resources };
}

function parseProvider(p: unknown, at: string): ProviderConfig {
  if (!isRecord(p)) throw new EncryptionConfigError(`${at}: expected an object`);
  const kinds = Object.keys(p).filter((k) => p[k] !== undefined && p[k] !== null);
  if (kinds.length !== 1) throw new EncryptionConfigError(`${at}: Invalid value: exactly one provider must be configured, found ${kinds.length} (${kinds.join(', ')})`);
  const type = kinds[0]!;
  if (type === 'identity') return { type, keys: [] };
  if (UNSUPPORTED.has(type)) throw new EncryptionConfigError(`${at}.${type}: skiff does not implement the ${type} provider; use aescbc or aesgcm`);
  if (type !== 'aescbc' && type !== 'aesgcm') throw new EncryptionConfigError(`${at}: Unsupported value: ${JSON.stringify(type)}: supported values: "aescbc", "aesgcm", "identity"`);
  const body = p[type];
  if (!isRecord(body) || !Array.isArray(body.keys) || body.keys.length === 0) throw new EncryptionConfigError(`${at}.${type}.keys: Required value: at least one key`);
  const names = new Set<string>();
  const keys = body.keys.map((k: unknown, i: number): EncryptionKey => {
    const kat = `${at}.${type}.keys[${i}]`;
    if (!isRecord(k) || typeof k.name !== 'string' || k.name === '') throw new EncryptionConfigError(`${kat}.name: Required value`);
    if (!KEY_NAME.test(k.name)) throw new EncryptionConfigError(`${kat}.name: Invalid value: ${JSON.stringify(k.name)}: letters, digits, '-', '_' and '.' only (the name is stored beside the data)`);
    if (names.has(k.name)) throw new EncryptionConfigError(`${kat}.name: Duplicate value: ${JSON.stringify(k.name)}`);
    names.add(k.name);
    if (typeof k.secret !== 'string' || k.secret === '') throw new EncryptionConfigError(`${kat}.secret: Required value`);
    const secret = Buffer.from(k.secret, 'base64');
    if (secret.toString('base64').replace(/=+$/, '') !== k.secret.replace(/=+$/, '').replace(/\s/g, '')) {
      throw new EncryptionConfigError(`${kat}.secret: Invalid value: REDACTED: secrets must be base64 encoded`);
    }
    if (![16, 24, 32].includes(secret.length)) {
      throw new EncryptionConfigError(`${kat}.secret: Invalid value: REDACTED: secret is not of the expected length, got ${secret.length}, expected one of [16 24 32]`);
    }
    return { name: k.name, secret };
  });
  return { type, keys };
}

/** The config as kube-apiserver's file format (what `skiff` writes to `<data-dir>/server/cred/encryption-config.json`). */
export function renderEncryptionConfig(config: EncryptionConfig): string {
  const doc = {
    kind: 'EncryptionConfiguration',
    apiVersion: 'apiserver.config.k8s.io/v1',
    resources: config.resources.map((r) => ({
      resources: r.resources,
      providers: r.providers.map((p) => (p.type === 'identity' ? { identity: {} } : { [p.type]: { keys: p.keys.map((k) => ({ name: k.name, secret: k.secret.toString('base64') })) } })),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
