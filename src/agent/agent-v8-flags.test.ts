import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * A child node process runs a hot function 200k times and reports whether V8 optimized it (natives syntax, enabled at
 * run time for the code compiled after it). Without the agent's flags it is optimized (so this test can fail); after
 * applyAgentV8Flags() it is not, though the flags are set from the running process, as `skiff agent` does.
 */
function optimizedIn(apply: boolean): boolean {
  const module = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './agent-v8-flags.ts' : './agent-v8-flags.js', import.meta.url));
  const script = `
    const { setFlagsFromString } = await import('node:v8');
    setFlagsFromString('--allow-natives-syntax');
    if (${apply}) (await import(${JSON.stringify(module)})).applyAgentV8Flags();
    const hot = new Function('a', 'b', 'return a * 31 + b');
    let s = 0;
    for (let i = 0; i < 200000; i++) s = hot(s & 0xffff, i);
    const status = new Function('f', 'return %GetOptimizationStatus(f)')(hot);
    console.log(JSON.stringify({ optimized: (status & 16) !== 0, s }));
  `;
  const out = execFileSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!).optimized;
}

test('without the agent flags V8 optimizes a hot function (the check works)', () => {
  assert.equal(optimizedIn(false), true);
});

test('applyAgentV8Flags turns TurboFan off in the running process', () => {
  assert.equal(optimizedIn(true), false);
});
