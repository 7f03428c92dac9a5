/**
 * Golden-file tests of the network policy rules: each case of policy-golden-cases.ts computed for node-a, rendered and
 * compared with testdata/<case>.rules (`UPDATE_GOLDEN=1` rewrites them; read the diff). As root each file is also
 * fed to `iptables-restore --test`, so a rule iptables would refuse fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { computePolicyModel } from './compute-policy-model.js';
import { cases, inputsOf } from './policy-golden-cases.js';
import { isPolicyChainOf, policyChainTag, renderPolicyRestore, renderPolicyRules } from './render-policy-iptables.js';

const here = dirname(fileURLToPath(import.meta.url)).replace(`${join('dist', 'src')}`, 'src');
const TAG = 'abcd';

function render(c: (typeof cases)[number]): string {
  return renderPolicyRestore(renderPolicyRules(computePolicyModel(inputsOf(c)), { tag: TAG }));
}

describe('network policy iptables rules (golden files)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = render(c);
      const file = join(here, 'testdata', `${c.name}.rules`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, got);
      assert.equal(got, readFileSync(file, 'utf8'), `rules differ from ${file} (UPDATE_GOLDEN=1 rewrites it)`);
    });
  }

  it('iptables-restore --test accepts every golden file', { skip: process.getuid?.() !== 0 || !existsSync('/usr/sbin/iptables-restore') ? 'needs root and iptables-restore' : false }, async () => {
    for (const c of cases) {
      const text = render(c);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('iptables-restore', ['-w', '5', '--noflush', '--test'], (err, _stdout, stderr) => (err ? reject(new Error(`${c.name}: ${stderr || err.message}`)) : resolve()));
        child.stdin!.end(text);
      });
    }
  });

  it('chain names fit in 28 characters, belong to their agent only, and stale chains are deleted', () => {
    const a = policyChainTag('skiffa1b2c3');
    const b = policyChainTag('skiffd4e5f6');
    assert.notEqual(a, b);
    const rendered = renderPolicyRules(computePolicyModel(inputsOf(cases.find((c) => c.name === 'egress-ipblock-except-and-ranges')!)), { tag: a });
    for (const chain of rendered.chains) {
      assert.ok(chain.length <= 28, `${chain} is longer than 28`);
      assert.ok(isPolicyChainOf(a, chain), chain);
      assert.ok(!isPolicyChainOf(b, chain), `${chain} also looks like agent ${b}'s`);
    }
    assert.equal(new Set(rendered.chains).size, rendered.chains.length, 'no chain declared twice');
    const text = renderPolicyRestore(rendered, [`SKIFF-NWPLCY-${a}-OLD0000000`, rendered.chains[0]!]);
    assert.match(text, new RegExp(`:SKIFF-NWPLCY-${a}-OLD0000000 - \\[0:0\\]\\n[\\s\\S]*-X SKIFF-NWPLCY-${a}-OLD0000000\\nCOMMIT`));
    assert.ok(!text.includes(`-X ${rendered.chains[0]}`), 'a rendered chain is never deleted');
  });
});
