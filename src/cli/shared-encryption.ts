/**
 * `--secrets-encryption` across the servers of one datastore, as k3s does it: the EncryptionConfiguration file travels
 * in the cluster's bootstrap data (sealed with the token, beside the CA). A server
 *
 *   - joining a cluster that encrypts takes the cluster's key file (a server without --secrets-encryption is refused:
 *     it could read none of the Secrets and would write new ones in clear);
 *   - joining a cluster that does not encrypt yet, or starting the cluster, publishes its own;
 *   - follows the bootstrap data while it runs, so a key rotated on one server reaches every server (the rotation
 *     publishes the new key for reading first, and writes with it only `settleMs` later).
 */
import type { ServerConfig } from './flags.js';
import { BOOTSTRAP_KEY, unseal, updateBootstrap, type BootstrapData } from './bootstrap.js';
import { renderEncryptionConfig } from '../storage/encryption/encryption-config.js';
import { encryptionConfigPath, SecretsEncryption } from '../storage/encryption/secrets-encryption.js';
import type { Store, Watch } from '../storage/store.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('secrets-encryption');

/** How long a rotation on etcd waits for the other servers to take the new key before writing with it. */
const ETCD_SETTLE_MS = 3000;

export interface ExistingBootstrap {
  sealed: string;
  revision: number;
  /** The token's secret; undefined when this server was given none (adoptClusterCA then says so). */
  secret: string | undefined;
}

export interface SharedEncryption {
  encryption: SecretsEncryption | undefined;
  /** Another server started the cluster at the same moment and won: take its key file, or publish ours into its data. */
  joined(winner: BootstrapData): Promise<void>;
  /** Starts following the bootstrap data (once the token's secret is known). */
  follow(secret: string): void;
  stop(): void;
}

export async function shareEncryption(store: Store, config: Pick<ServerConfig, 'dataDir' | 'datastoreEndpoint' | 'secretsEncryption'>, existing: ExistingBootstrap | undefined): Promise<SharedEncryption> {
  const cluster = existing?.secret ? unseal(existing.sealed, existing.secret) : undefined;
  if (cluster?.encryptionConfig !== undefined && !config.secretsEncryption) {
    throw new Error("the cluster's servers encrypt Secrets at rest: start this server with --secrets-encryption too (it takes the cluster's key file from the datastore)");
  }
  let secret = existing?.secret;
  let published = existing !== undefined;
  // What this server published is installed here already: its own events are not taken again (a late one would
  // undo the step after it).
  const ours = new Set<string>();
  const publish = async (text: string) => {
    ours.add(text);
    if (ours.size > 8) ours.delete(ours.values().next().value!);
    if (!published || !secret) return;
    await updateBootstrap(store, secret, (d) => (d.encryptionConfig === text ? undefined : { ...d, encryptionConfig: text }));
  };
  const encryption = config.secretsEncryption
    ? await SecretsEncryption.open(store, encryptionConfigPath(config.dataDir), {
        shared: cluster?.encryptionConfig,
        publish,
        settleMs: config.datastoreEndpoint.startsWith('etcd') ? ETCD_SETTLE_MS : 0,
      })
    : undefined;
  let watch: Watch | undefined;
  let stopped = false;
  let revision = existing?.revision ?? 0;

  // Events are taken one after another, in revision order.
  let taking: Promise<unknown> = Promise.resolve();
  const take = (sealed: string) => {
    taking = taking.then(async () => {
      if (!encryption || !secret) return;
      const data = unseal(sealed, secret);
      if (data.encryptionConfig !== undefined && !ours.has(data.encryptionConfig)) await encryption.adopt(data.encryptionConfig);
    }).catch((err: unknown) => log.error("taking the cluster's new encryption key file failed", { err }));
  };

  return {
    encryption,
    async joined(winner) {
      published = true;
      if (winner.encryptionConfig !== undefined && !encryption) {
        throw new Error("the cluster's servers encrypt Secrets at rest: start this server with --secrets-encryption too (it takes the cluster's key file from the datastore)");
      }
      if (!encryption) return;
      if (winner.encryptionConfig !== undefined) await encryption.adopt(winner.encryptionConfig);
      else await publish(renderEncryptionConfig(encryption.config));
    },
    follow(s) {
      secret = s;
      published = true;
      if (!encryption || stopped) return;
      const start = async () => {
        if (!revision) revision = (await store.get(BOOTSTRAP_KEY)).kv?.modRevision ?? (await store.currentRevision());
        if (stopped) return;
        watch = store.watch(BOOTSTRAP_KEY, {
          afterRevision: revision,
          onEvents: (events) => {
            for (const ev of events) {
              if (ev.kv.key !== BOOTSTRAP_KEY || ev.type === 'delete') continue;
              revision = ev.kv.modRevision;
              take(ev.kv.value);
            }
          },
          onError: (err) => {
            // A compacted or broken watch: read the current data and watch again from there.
            log.warn('the watch on the cluster bootstrap data ended; starting over', { err: err.message });
            revision = 0;
            watch = undefined;
            if (!stopped) setTimeout(() => void start().catch(() => undefined), 1000).unref();
          },
        });
      };
      start().catch((err: unknown) => log.error('following the cluster bootstrap data failed', { err }));
    },
    stop() {
      stopped = true;
      watch?.cancel();
    },
  };
}
