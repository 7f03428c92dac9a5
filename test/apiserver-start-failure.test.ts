/**
 * A start that fails halfway rejects and closes what it had opened, so the process can exit: before, a step failing
 * after the server was listening (here: RBAC's bootstrap, given a registry without ClusterRoles) left the socket
 * open and a test process waiting forever. A taken port (a failure before listening) is refused cleanly too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// Run from the sources (tsx) or from dist (compiled): the child imports the same kind of module as this file.
const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';

const SCRIPT = `
import net from 'node:net';
import { startBareApiServer } from ${JSON.stringify(new URL(`./helpers/api-server.${EXT}`, import.meta.url).href)};
import { resources } from ${JSON.stringify(new URL(`../src/apiserver/registry/index.${EXT}`, import.meta.url).href)};
const taken = net.createServer();
await new Promise((r) => taken.listen(0, '127.0.0.1', r));
const port = taken.address().port;
for (const [what, server] of [
  ['port', { port }],
  ['late', { resources: resources.filter((r) => r.plural !== 'clusterroles') }],
]) {
  try {
    await startBareApiServer({ server });
    console.log(what, 'started');
  } catch (err) {
    console.log(what, 'refused', err.code ?? err.message);
  }
}
taken.close();
`;

test('an API server whose start fails closes what it opened, and the process exits on its own', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-start-failure-'));
  try {
    const script = join(dir, 'start.mjs');
    await writeFile(script, SCRIPT);
    const child = spawn(process.execPath, [...(EXT === 'ts' ? ['--import', 'tsx'] : []), script], { env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = await new Promise<number | null | 'hung'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('hung');
      }, 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    assert.match(out, /port refused EADDRINUSE/, `stdout: ${out}\nstderr: ${err.slice(0, 2000)}`);
    assert.match(out, /late refused the resource registry must serve clusterroles/, `stdout: ${out}\nstderr: ${err.slice(0, 2000)}`);
    assert.equal(exited, 0, `the process should exit by itself once the failed start is handled (stderr: ${err.slice(0, 2000)})`);
    assert.ok((await readdir(dir)).includes('start.mjs'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
