#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node:test.
// Node 20's `--test` takes no glob patterns, so the files are found here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
// tsc does not delete outputs of removed sources: run only tests whose .ts still exists.
const hasSource = (f) => existsSync(f.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
const files = findTests('dist')
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files found in dist/ matching ${JSON.stringify(filters)}`);
  process.exit(1);
}
// Watch events that the server's components share (apiserver/shared-line-decoder.ts) are deep-frozen under test, so
// code that mutates an informer's object fails here instead of corrupting another component's cache.
const env = { ...process.env, SKIFF_FREEZE_SHARED_OBJECTS: process.env.SKIFF_FREEZE_SHARED_OBJECTS ?? '1' };
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
