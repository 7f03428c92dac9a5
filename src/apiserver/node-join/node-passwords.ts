/**
 * Node passwords, as k3s keeps them (k3s docs, "Node Registration"): the first agent to ask for a node name's
 * certificates stores a hash of its random per-node password in the Secret kube-system/<node>.node-password.skiff;
 * later requests for that name must bring the same password, so another machine cannot take over a node's identity
 * with the cluster token alone. Deleting the Secret (e.g. after reinstalling a node) frees the name; the node-password
 * controller deletes it with its Node, as k3s's node controller does.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { NODE_PASSWORD_NAMESPACE, NODE_PASSWORD_SECRET_SUFFIX, NODE_PASSWORD_SECRET_TYPE, nodePasswordSecretName } from '../../api/node-password.js';
import type { KubeObject } from '../../api/object.js';
import { forbidden, isAlreadyExists, isNotFound } from '../../api/status.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { ResourceOps } from '../resource-ops.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export { NODE_PASSWORD_NAMESPACE, NODE_PASSWORD_SECRET_SUFFIX, NODE_PASSWORD_SECRET_TYPE };

export interface NodePasswordStore {
  /** Resolves when the password is the node name's (recording it the first time); rejects with 403 otherwise. */
  verify(nodeName: string, password: string): Promise<void>;
}

/** Hashes in Secrets, written and read through the API server's own resource operations. */
export class SecretNodePasswords implements NodePasswordStore {
  constructor(
    private readonly ops: ResourceOps,
    private readonly secrets: ResourceDefinition,
  ) {}

  async verify(nodeName: string, password: string): Promise<void> {
    const name = nodePasswordSecretName(nodeName);
    for (let attempt = 0; attempt < 2; attempt++) {
      let stored: KubeObject | undefined;
      try {
        stored = (await this.ops.get(this.secrets, NODE_PASSWORD_NAMESPACE, name)).obj;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (stored) {
        const hash = Buffer.from(String((stored as { data?: Record<string, string> }).data?.hash ?? ''), 'base64').toString('utf8');
        if (await matches(password, hash)) return;
        throw forbidden(
          `Node password rejected, duplicate hostname or contents of the agent's <data-dir>/agent/node-password may not match the server's entry for node "${nodeName}"; ` +
            `if this machine replaced that node, delete the Secret ${NODE_PASSWORD_NAMESPACE}/${name}`,
        );
      }
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NODE_PASSWORD_NAMESPACE, labels: { 'skiff.dev/node': nodeName } },
        type: NODE_PASSWORD_SECRET_TYPE,
        immutable: true,
        data: { hash: Buffer.from(await hashPassword(password)).toString('base64') },
      };
      try {
        await this.ops.create(this.secrets, NODE_PASSWORD_NAMESPACE, secret, { dryRun: false });
        return;
      } catch (err) {
        // Two agents raced for the name: the one whose Secret landed wins; check against it.
        if (!isAlreadyExists(err)) throw err;
      }
    }
    throw forbidden(`node password for "${nodeName}" could not be recorded`);
  }
}

/** `scrypt$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function matches(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const want = Buffer.from(hash, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length || 32);
  return want.length === got.length && timingSafeEqual(want, got);
}
