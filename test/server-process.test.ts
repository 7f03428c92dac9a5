/**
 * `skiff server` as users run it: a child process on a data dir. Durability under kill -9, restart with the same CA
 * and objects, graceful SIGTERM, flags.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { SKIFF_BIN, spawnServer, waitExit } from './helpers/server-process.js';
import { fillDisk, mountTinyTmpfs } from '../src/storage/tmpfs-testing.js';

interface Creds {
  ca: string;
  cert: string;
  key: string;
}

async function credsFrom(kubeconfig: string): Promise<Creds> {
  const kc = parseYaml(await readFile(kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return {
    ca: b64(kc.clusters[0].cluster['certificate-authority-data']),
    cert: b64(kc.users[0].user['client-certificate-data']),
    key: b64(kc.users[0].user['client-key-data']),
  };
}

function request(port: number, creds: Creds, agent: https.Agent, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({ host: '127.0.0.1', port, method, path, ...creds, agent, headers: payload ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

describe('skiff server process', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const newDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'skiff-proc-'));
    dirs.push(d);
    return d;
  };

  it('keeps every acknowledged write through kill -9, and restarts with the same CA and objects', async () => {
    const dataDir = await newDir();
    const args = ['--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
    const first = await spawnServer(args);
    const kubeconfig = join(dataDir, 'kubeconfig.yaml');
    assert.equal((await stat(kubeconfig)).mode & 0o777, 0o600);
    const creds = await credsFrom(kubeconfig);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
    const acked = new Set<string>();
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const name = `dur-${n++}`;
        try {
          const r = await request(first.port, creds, agent, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name }, data: { n: name } });
          if (r.status === 201) acked.add(name);
        } catch {
          return; // the server died mid-request: that write was not acknowledged
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await waitExit(first.child);
    agent.destroy();
    assert.ok(acked.size > 50, `enough acknowledged writes to mean something (${acked.size})`);

    const second = await spawnServer(args);
    try {
      const creds2 = await credsFrom(kubeconfig);
      assert.equal(creds2.ca, creds.ca, 'the CA survives a restart');
      const agent2 = new https.Agent({ keepAlive: true });
      const list = await request(second.port, creds2, agent2, 'GET', '/api/v1/namespaces/default/configmaps');
      const names = new Set<string>(list.json.items.map((c: any) => c.metadata.name));
      const lost = [...acked].filter((a) => !names.has(a));
      assert.deepEqual(lost, [], `acknowledged writes lost after kill -9 (${acked.size} acknowledged)`);
      agent2.destroy();
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await waitExit(second.child), 0, 'graceful exit on SIGTERM');
    }
  });

  it('prints flag errors and help', async () => {
    const { spawnSync } = await import('node:child_process');
    const { SKIFF_BIN } = await import('./helpers/server-process.js');
    const bad = spawnSync(process.execPath, [SKIFF_BIN, 'server', '--https-listen-port', 'abc'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /https-listen-port/);
    const help = spawnSync(process.execPath, [SKIFF_BIN, 'server', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--datastore-endpoint/);
    assert.match(help.stdout, /SKIFF_DATA_DIR/);
  });
});

const fullMount = mountTinyTmpfs('4m');

describe('skiff server on a full disk', { skip: fullMount === undefined && 'cannot mount a tmpfs here (needs root)' }, () => {
  after(() => fullMount?.unmount());

  it('a fresh start exits 1 with one line that says the disk is full, whichever write hit it first', async () => {
    fillDisk(fullMount!.dir);
    const child = spawn(process.execPath, [SKIFF_BIN, 'server', '--data-dir', join(fullMount!.dir, 'data'), '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable-agent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const [code] = await once(child, 'close');
    assert.equal(code, 1, output);
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 1, output);
    assert.match(lines[0], /cannot start: the disk holding .*\/data is full \(0 bytes free\); free some space and start again: /);
  });
});
