import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './agent-v8-flags.ts' : './agent-v8-flags.js', import.meta.url));

/** Runs an ES module script in a child node (the flags change the whole process) and parses its last output line. */
function inChild<T>(script: string): T {
  const out = execFileSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/**
 * The largest new space (MB) while 200 rounds of 20k objects are allocated and the last 20 rounds kept alive (so they
 * survive scavenges and V8 grows the semispaces), yielding to the event loop between rounds (where 'gc' entries arrive).
 */
function largestNewSpaceMb(apply: boolean): number {
  return inChild<{ mb: number }>(`
    const { getHeapSpaceStatistics } = await import('node:v8');
    if (${apply}) (await import(${JSON.stringify(MODULE)})).applyAgentV8Flags();
    const keep = [];
    let largest = 0;
    for (let r = 0; r < 200; r++) {
      const a = [];
      for (let i = 0; i < 20000; i++) a.push({ i, s: 'x' + i });
      keep.push(a);
      if (keep.length > 20) keep.shift();
      await new Promise((resolve) => setImmediate(resolve));
      largest = Math.max(largest, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
    }
    console.log(JSON.stringify({ mb: largest / 1048576 }));
  `).mb;
}

test('without the cap the new space grows past 8 MB under surviving allocations (the check works)', () => {
  const mb = largestNewSpaceMb(false);
  assert.ok(mb > 8, `V8 grew the new space to ${mb} MB only`);
});

test('applyAgentV8Flags keeps the new space at about 4 MB (at most one doubling over the cap)', () => {
  const mb = largestNewSpaceMb(true);
  assert.ok(mb <= 8, `new space grew to ${mb} MB`);
});
