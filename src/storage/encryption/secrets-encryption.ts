/**
 * `--secrets-encryption`, as k3s has it: the server keeps kube-apiserver's EncryptionConfiguration in
 * `<data-dir>/server/cred/encryption-config.json` (generated on first use: one AES-CBC key for Secrets, then identity,
 * so Secrets written before encryption was turned on stay readable), wraps the datastore in an EncryptingStore, and
 * answers `skiff secrets-encrypt status|rotate-keys|reencrypt` through the API server:
 *
 *   GET  /v1-skiff/encrypt/status       what is encrypted, with which keys, and how many values are stale
 *   POST /v1-skiff/encrypt/rotate-keys  a new key first (the previous one kept to read), every value rewritten with it
 *   POST /v1-skiff/encrypt/reencrypt    every stale value rewritten with the first key
 *
 * They are non-resource paths behind authentication and authorization (only cluster-admin's `*` non-resource rule
 * reaches them). Rotation writes the file first (new key first, the old one still listed), then swaps the running
 * transformer, then rewrites: a crash between any two steps leaves every value readable with the file on disk.
 * Servers sharing a datastore share the file through the cluster's bootstrap data (as k3s does): a server takes the
 * cluster's config at start (`shared`), publishes its own when the cluster has none, and adopts a changed one while
 * running (`adopt`). A rotation is published in two steps: first the new key second (every server can read with it),
 * then, `settleMs` later, first (servers write with it) — so no server meets a value sealed with a key it lacks.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger } from '../../log/logger.js';
import { EncryptingStore } from './encrypting-store.js';
import { parseEncryptionConfig, renderEncryptionConfig, type EncryptionConfig, type ProviderConfig } from './encryption-config.js';
import { coveredPrefixes, ValueTransformer } from './value-transformer.js';
import type { Store } from '../store.js';

const log = createLogger('secrets-encryption');

export const ENCRYPTION_PATHS = Object.freeze({
  status: '/v1-skiff/encrypt/status',
  rotateKeys: '/v1-skiff/encrypt/rotate-keys',
  reencrypt: '/v1-skiff/encrypt/reencrypt',
});

export function encryptionConfigPath(dataDir: string): string {
  return join(dataDir, 'server', 'cred', 'encryption-config.json');
}

export interface SharingOptions {
  /** The cluster's config (from its bootstrap data), when it has one. */
  shared?: string;
  /** Publishes this server's config to the other servers (the bootstrap data). */
  publish?: (text: string) => Promise<void>;
  /** How long a rotation waits between publishing the new key for reading and writing with it (0: no wait). */
  settleMs?: number;
}

export type RotationStage = 'start' | 'reencrypt_active' | 'reencrypt_finished';

export interface EncryptionStatus {
  enabled: true;
  configFile: string;
  stage: RotationStage;
  resources: string[];
  /** Every key of every rule, the one that encrypts first. */
  keys: Array<{ type: string; name: string; active: boolean }>;
  /** Values under the covered resources, and how many of them are not sealed with the active key. */
  scanned: number;
  stale: number;
}

/** k3s names its keys `aescbckey-<RFC 3339 time>`; colons are not allowed in a key name stored beside the data. */
function newKeyName(now: Date): string {
  return `aescbckey-${now.toISOString().replace(/[:.]/g, '-')}`;
}

function newAescbc(now: Date): ProviderConfig {
  return { type: 'aescbc', keys: [{ name: newKeyName(now), secret: randomBytes(32) }] };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

/** Reads the config file, or writes a new one (one AES-CBC key for Secrets, then identity) when there is none. */
export async function loadOrCreateEncryptionConfig(path: string, now = new Date()): Promise<{ config: EncryptionConfig; created: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const config: EncryptionConfig = { resources: [{ resources: ['secrets'], providers: [newAescbc(now), { type: 'identity', keys: [] }] }] };
    await writeAtomically(path, renderEncryptionConfig(config));
    return { config, created: true };
  }
  return { config: parseEncryptionConfig(text, path), created: false };
}

export class SecretsEncryption {
  #stage: RotationStage = 'start';
  /** One rotation or re-encryption at a time. */
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(readonly store: EncryptingStore, readonly path: string, private readonly sharing: SharingOptions) {}

  /**
   * Wraps `inner` with the config at `path` (created when missing). With `sharing.shared` (the cluster's config from
   * its bootstrap data), that config replaces the local file first; without it, the local config is published.
   */
  static async open(inner: Store, path: string, sharing: SharingOptions = {}): Promise<SecretsEncryption> {
    if (sharing.shared !== undefined) {
      const clusters = parseEncryptionConfig(sharing.shared, 'the cluster bootstrap data');
      const local = await readFile(path, 'utf8').then((t) => parseEncryptionConfig(t, path), () => undefined);
      if (!local || renderEncryptionConfig(local) !== renderEncryptionConfig(clusters)) {
        if (local) log.warn("secrets encryption: replacing the local key file with the cluster's from the datastore", { file: path });
        await writeAtomically(path, renderEncryptionConfig(clusters));
      }
    }
    const { config, created } = await loadOrCreateEncryptionConfig(path);
    if (created) log.info('secrets encryption: generated a new AES-CBC key', { file: path });
    const se = new SecretsEncryption(new EncryptingStore(inner, new ValueTransformer(config)), path, sharing);
    if (sharing.shared === undefined) await sharing.publish?.(renderEncryptionConfig(config));
    log.info('secrets encryption enabled', { file: path, resources: config.resources.flatMap((r) => r.resources).join(','), key: activeKey(config) });
    return se;
  }

  /**
   * Takes a config another server published (its bootstrap data changed): the file is rewritten and the running
   * transformer swapped. Returns false when it is the config already in use.
   */
  async adopt(text: string): Promise<boolean> {
    const config = parseEncryptionConfig(text, 'the cluster bootstrap data');
    const rendered = renderEncryptionConfig(config);
    if (rendered === renderEncryptionConfig(this.config)) return false;
    await writeAtomically(this.path, rendered);
    this.store.setTransformer(new ValueTransformer(config));
    log.info("secrets encryption: took the cluster's new key file from the datastore", { file: this.path, key: activeKey(config) });
    return true;
  }

  /** Writes the file, swaps the running transformer, and publishes the config to the other servers. */
  async #install(config: EncryptionConfig): Promise<void> {
    const rendered = renderEncryptionConfig(config);
    await writeAtomically(this.path, rendered);
    this.store.setTransformer(new ValueTransformer(config));
    await this.sharing.publish?.(rendered);
  }

  get config(): EncryptionConfig {
    return this.store.transformer.config;
  }

  async status(): Promise<EncryptionStatus> {
    const config = this.config;
    const { scanned, stale } = await this.store.countStale(coveredPrefixes(config));
    return {
      enabled: true,
      configFile: this.path,
      stage: this.#stage,
      resources: config.resources.flatMap((r) => r.resources),
      keys: config.resources.flatMap((r) => r.providers.flatMap((p, i) => p.keys.map((k, j) => ({ type: p.type === 'aescbc' ? 'AES-CBC' : 'AES-GCM', name: k.name, active: i === 0 && j === 0 })))),
      scanned,
      stale,
    };
  }

  /** A new AES-CBC key first in every rule (the previous first key kept second, to read), then every value rewritten. */
  rotateKeys(now = new Date()): Promise<{ key: string; scanned: number; rewritten: number }> {
    return this.#exclusive(async () => {
      // Only the active key is kept beside the new one: first make sure nothing is sealed with an older key.
      if ((await this.store.countStale(coveredPrefixes(this.config))).stale > 0) await this.#rewrite();
      const fresh = newAescbc(now);
      const rotated = (freshFirst: boolean): EncryptionConfig => ({
        resources: this.config.resources.map((r) => {
          const previous = r.providers.find((p) => p.type !== 'identity');
          // Keep the key the data is sealed with now, so it stays readable until the rewrite is done (and after a crash).
          const kept: ProviderConfig[] = previous ? [{ type: previous.type, keys: [previous.keys[0]!] }] : [];
          const identity: ProviderConfig[] = r.providers.some((p) => p.type === 'identity') ? [{ type: 'identity', keys: [] }] : [];
          // Before the new key writes, whatever wrote until now stays first (the kept key, or identity).
          const providers: ProviderConfig[] = freshFirst ? [fresh, ...kept, ...identity] : kept.length ? [...kept, fresh, ...identity] : [...identity, fresh];
          return { resources: r.resources, providers };
        }),
      });
      if (this.sharing.publish && this.sharing.settleMs) {
        // Other servers learn the new key before anything is sealed with it.
        await this.#install(rotated(false));
        await new Promise((r) => setTimeout(r, this.sharing.settleMs));
      }
      await this.#install(rotated(true));
      log.info('secrets encryption: rotated to a new key', { key: fresh.keys[0]!.name });
      const r = await this.#rewrite();
      return { key: fresh.keys[0]!.name, ...r };
    });
  }

  /** Every stale value rewritten with the active key. */
  reencrypt(): Promise<{ scanned: number; rewritten: number }> {
    return this.#exclusive(() => this.#rewrite());
  }

  async #rewrite(): Promise<{ scanned: number; rewritten: number }> {
    this.#stage = 'reencrypt_active';
    const started = performance.now();
    const r = await this.store.reencrypt(coveredPrefixes(this.config));
    this.#stage = 'reencrypt_finished';
    log.info('secrets encryption: re-encrypted', { ...r, ms: Math.round(performance.now() - started) });
    return r;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn, fn);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  /** Serves ENCRYPTION_PATHS (called after authentication and authorization); false for any other path. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const method = req.method ?? 'GET';
    let work: (() => Promise<unknown>) | undefined;
    if (path === ENCRYPTION_PATHS.status && (method === 'GET' || method === 'HEAD')) work = () => this.status();
    else if (path === ENCRYPTION_PATHS.rotateKeys && method === 'POST') work = () => this.rotateKeys();
    else if (path === ENCRYPTION_PATHS.reencrypt && method === 'POST') work = () => this.reencrypt();
    else if (!(Object.values(ENCRYPTION_PATHS) as string[]).includes(path)) return false;
    req.resume();
    if (!work) {
      reply(res, 405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `the server does not allow this method on ${path}`, reason: 'MethodNotAllowed', code: 405 });
      return true;
    }
    work().then(
      (body) => reply(res, 200, body),
      (err) => {
        log.error('secrets encryption request failed', { path, err });
        reply(res, 500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `Internal error occurred: ${(err as Error).message}`, reason: 'InternalError', code: 500 });
      },
    );
    return true;
  }
}

function activeKey(config: EncryptionConfig): string {
  const p = config.resources[0]?.providers[0];
  return p && p.type !== 'identity' ? `${p.type}:${p.keys[0]!.name}` : 'identity (values are written in clear)';
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
