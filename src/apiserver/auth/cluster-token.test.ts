import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFullToken } from '../../api/cluster-token.js';
import { ensureAgentToken, ensureToken } from './cluster-token.js';

const HASH = 'ab'.repeat(32);
const OTHER_HASH = 'cd'.repeat(32);

describe('ensureToken', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'skiff-token-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates a random 32-byte hex secret, persisted with mode 0600, and reuses it', async () => {
    const first = await ensureToken(dataDir);
    assert.match(first.secret, /^[0-9a-f]{64}$/);
    assert.equal(first.generated, true);
    assert.equal(first.path, join(dataDir, 'server', 'token'));
    assert.equal((await readFile(first.path, 'utf8')).trim(), first.secret);
    assert.equal((await stat(first.path)).mode & 0o777, 0o600);

    const second = await ensureToken(dataDir);
    assert.equal(second.secret, first.secret);
    assert.equal(second.generated, false);

    const elsewhere = await mkdtemp(join(tmpdir(), 'skiff-token-'));
    try {
      assert.notEqual((await ensureToken(elsewhere)).secret, first.secret);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('takes the --token value over the file and persists it', async () => {
    await ensureToken(dataDir);
    const given = await ensureToken(dataDir, 'my-secret');
    assert.equal(given.secret, 'my-secret');
    assert.equal((await ensureToken(dataDir)).secret, 'my-secret');
  });

  it('writes the K10 form when the CA hash is known and reads the secret back from it', async () => {
    const t = await ensureToken(dataDir, 'my-secret', HASH);
    assert.equal(t.full, `K10${HASH}::server:my-secret`);
    assert.equal((await readFile(t.path, 'utf8')).trim(), t.full);
    assert.equal((await ensureToken(dataDir)).secret, 'my-secret');
  });

  it('accepts a K10 --token and keeps only its secret; refuses one for another CA', async () => {
    const t = await ensureToken(dataDir, formatFullToken('s3cret', HASH), HASH);
    assert.equal(t.secret, 's3cret');
    await assert.rejects(ensureToken(dataDir, formatFullToken('s3cret', OTHER_HASH), HASH), /does not match this server's CA/);
  });

  it('refuses an empty token file instead of silently replacing it', async () => {
    await mkdir(join(dataDir, 'server'), { recursive: true });
    await writeFile(join(dataDir, 'server', 'token'), '\n');
    await assert.rejects(ensureToken(dataDir), /token file .* is empty/);
  });
});

describe('ensureAgentToken (--agent-token)', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'skiff-agent-token-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('without one, agents join with the cluster token, which the agent-token file holds (as k3s writes it)', async () => {
    const cluster = await ensureToken(dataDir, 'cluster-secret', HASH);
    const agent = await ensureAgentToken(dataDir, cluster, undefined, HASH);
    assert.deepEqual(agent, { secret: 'cluster-secret', path: join(dataDir, 'server', 'agent-token'), separate: false });
    assert.equal((await readFile(agent.path, 'utf8')).trim(), formatFullToken('cluster-secret', HASH));
    assert.equal((await stat(agent.path)).mode & 0o777, 0o600);
  });

  it('given, it is kept in the node form and survives restarts without the flag; a token of another CA is refused', async () => {
    const cluster = await ensureToken(dataDir, 'cluster-secret', HASH);
    const agent = await ensureAgentToken(dataDir, cluster, 'agents-only', HASH);
    assert.equal(agent.separate, true);
    assert.equal((await readFile(agent.path, 'utf8')).trim(), `K10${HASH}::node:agents-only`);
    const again = await ensureAgentToken(dataDir, cluster, undefined, HASH);
    assert.deepEqual(again, agent);
    const full = await ensureAgentToken(dataDir, cluster, `K10${HASH}::node:other`, HASH);
    assert.equal(full.secret, 'other');
    await assert.rejects(ensureAgentToken(dataDir, cluster, `K10${OTHER_HASH}::node:x`, HASH), /--agent-token: the CA hash in the token does not match/);
  });
});
