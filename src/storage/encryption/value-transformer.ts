/**
 * Encryption of stored values, kube-apiserver's envelope (k8s.io/apiserver/pkg/storage/value): a value written for an
 * encrypted resource is `k8s:enc:<provider>:v1:<key name>:` followed by the ciphertext. Store values are text in
 * skiff, so the ciphertext part is base64.
 *
 *   aescbc   IV (16 random bytes) ‖ AES-CBC(PKCS#7 padding)                      kube-apiserver's aescbc
 *   aesgcm   nonce (12 random bytes) ‖ AES-GCM ciphertext ‖ tag (16 bytes),    the storage key as authenticated data
 *            so a value copied to another key does not decrypt
 *   identity the value as it is (no prefix)
 *
 * A resource is found by its storage key (`/registry/<group|core>/<plural>/...`); the first rule of the config naming
 * it (`secrets`, `deployments.apps`, `*.apps`, `*.` for the core group, `*.*`) decides. Writes use the rule's first
 * provider (its first key); reads pick the provider and key the prefix names, among the rule's providers — data
 * without a prefix reads only where identity is listed, as upstream.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionConfig, EncryptionKey, ProviderConfig, ResourceRule } from './encryption-config.js';

export const ENCRYPTED_PREFIX = 'k8s:enc:';

export interface ReadValue {
  value: string;
  /** True when a write now would store it differently: plain text, or another provider or key than the first. */
  stale: boolean;
}

export class DecryptError extends Error {
  constructor(readonly key: string, why: string) {
    super(`failed to decrypt the stored value of ${key}: ${why}`);
    this.name = 'DecryptError';
  }
}

interface CompiledRule {
  rule: ResourceRule;
  /** `k8s:enc:aescbc:v1:k1:` → how to open it. */
  readers: Map<string, (body: Buffer, key: string) => Buffer>;
  /** The write side: undefined for identity. */
  writer?: { prefix: string; seal: (plain: Buffer, key: string) => Buffer };
  readsPlain: boolean;
}

export class ValueTransformer {
  readonly #rules: CompiledRule[];
  /** `<group>/<plural>` → its rule (or null: not encrypted). Keys of one resource share it. */
  readonly #byResource = new Map<string, CompiledRule | null>();

  /** The rule naming `*.*`, if any. */
  readonly #everything: CompiledRule | undefined;

  constructor(readonly config: EncryptionConfig) {
    this.#rules = config.resources.map(compile);
    this.#everything = this.#rules.find((r) => r.rule.resources.includes('*.*'));
  }

  /** True when values under this key are transformed (the resource is named by a rule). */
  covers(key: string): boolean {
    return this.#ruleFor(key) !== undefined;
  }

  toStorage(key: string, plain: string): string {
    const rule = this.#ruleFor(key);
    if (!rule?.writer) return plain;
    return rule.writer.prefix + rule.writer.seal(Buffer.from(plain, 'utf8'), key).toString('base64');
  }

  fromStorage(key: string, stored: string): ReadValue {
    const rule = this.#ruleFor(key);
    if (!rule) return { value: stored, stale: false };
    if (!stored.startsWith(ENCRYPTED_PREFIX)) {
      if (!rule.readsPlain) throw new DecryptError(key, 'no matching prefix found (the value is not encrypted, and identity is not among the providers)');
      return { value: stored, stale: rule.writer !== undefined };
    }
    // k8s:enc:<provider>:v1:<name>:<body>
    const end = nthIndexOf(stored, ':', 5);
    if (end < 0) throw new DecryptError(key, 'malformed envelope');
    const prefix = stored.slice(0, end + 1);
    const open = rule.readers.get(prefix);
    if (!open) throw new DecryptError(key, `no provider in the configuration for ${prefix.slice(ENCRYPTED_PREFIX.length, -1)} (was its key removed?)`);
    let plain: Buffer;
    try {
      plain = open(Buffer.from(stored.slice(end + 1), 'base64'), key);
    } catch (err) {
      throw new DecryptError(key, (err as Error).message);
    }
    return { value: plain.toString('utf8'), stale: prefix !== rule.writer?.prefix };
  }

  #ruleFor(key: string): CompiledRule | undefined {
    // /registry/<group|core>/<plural>/...
    const g = key.indexOf('/', 10);
    const p = g < 0 ? -1 : key.indexOf('/', g + 1);
    // Keys of another shape (skiff's own bookkeeping) are covered only by `*.*`.
    if (!key.startsWith('/registry/') || p < 0) return this.#everything ?? undefined;
    const resource = key.slice(10, p);
    let rule = this.#byResource.get(resource);
    if (rule === undefined) {
      const group = key.slice(10, g) === 'core' ? '' : key.slice(10, g);
      const plural = key.slice(g + 1, p);
      rule = this.#rules.find((r) => r.rule.resources.some((name) => matches(name, group, plural))) ?? null;
      this.#byResource.set(resource, rule);
    }
    return rule ?? undefined;
  }
}

/** `secrets` (core), `deployments.apps`, `*.apps`, `*.` (every core resource), `*.*` (everything). */
function matches(name: string, group: string, plural: string): boolean {
  if (name === '*.*') return true;
  const dot = name.indexOf('.');
  const [res, grp] = dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1)];
  return grp === group && (res === '*' || res === plural);
}

function compile(rule: ResourceRule): CompiledRule {
  const readers = new Map<string, (body: Buffer, key: string) => Buffer>();
  let writer: CompiledRule['writer'];
  let readsPlain = false;
  rule.providers.forEach((p, i) => {
    if (p.type === 'identity') {
      readsPlain = true;
      return;
    }
    p.keys.forEach((k, j) => {
      const prefix = `${ENCRYPTED_PREFIX}${p.type}:v1:${k.name}:`;
      if (!readers.has(prefix)) readers.set(prefix, opener(p, k));
      if (i === 0 && j === 0) writer = { prefix, seal: sealer(p, k) };
    });
  });
  return { rule, readers, writer, readsPlain };
}

function cipherName(p: ProviderConfig, k: EncryptionKey): string {
  return `aes-${k.secret.length * 8}-${p.type === 'aescbc' ? 'cbc' : 'gcm'}`;
}

function sealer(p: ProviderConfig, k: EncryptionKey): (plain: Buffer, key: string) => Buffer {
  const algorithm = cipherName(p, k);
  if (p.type === 'aescbc') {
    return (plain) => {
      const iv = randomBytes(16);
      const c = createCipheriv(algorithm, k.secret, iv);
      return Buffer.concat([iv, c.update(plain), c.final()]);
    };
  }
  return (plain, key) => {
    const nonce = randomBytes(12);
    const c = createCipheriv(algorithm as 'aes-256-gcm', k.secret, nonce);
    c.setAAD(Buffer.from(key, 'utf8'));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([nonce, body, c.getAuthTag()]);
  };
}

function opener(p: ProviderConfig, k: EncryptionKey): (body: Buffer, key: string) => Buffer {
  const algorithm = cipherName(p, k);
  if (p.type === 'aescbc') {
    return (body) => {
      if (body.length < 32 || body.length % 16 !== 0) throw new Error('the data is not a whole number of AES blocks');
      const d = createDecipheriv(algorithm, k.secret, body.subarray(0, 16));
      return Buffer.concat([d.update(body.subarray(16)), d.final()]);
    };
  }
  return (body, key) => {
    if (body.length < 28) throw new Error('the data is too short for a nonce and a tag');
    const d = createDecipheriv(algorithm as 'aes-256-gcm', k.secret, body.subarray(0, 12));
    d.setAAD(Buffer.from(key, 'utf8'));
    d.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]);
  };
}

function nthIndexOf(s: string, ch: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = s.indexOf(ch, i + 1);
    if (i < 0) return -1;
  }
  return i;
}

/** The storage key prefixes of the resources a config names (`*.*` covers all of /registry/). */
export function coveredPrefixes(config: EncryptionConfig): string[] {
  const out = new Set<string>();
  for (const rule of config.resources) {
    for (const name of rule.resources) {
      if (name === '*.*') return ['/registry/'];
      const dot = name.indexOf('.');
      const [res, grp] = dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1)];
      out.add(res === '*' ? `/registry/${grp || 'core'}/` : `/registry/${grp || 'core'}/${res}/`);
    }
  }
  // A prefix inside another one would be scanned twice.
  return [...out].filter((p) => ![...out].some((q) => q !== p && p.startsWith(q))).sort();
}
