/**
 * Golden-file tests of the iptables rules: a table of Services and EndpointSlices, each rendered and compared with
 * testdata/<case>.rules. `UPDATE_GOLDEN=1` rewrites the files (read the diff before committing it). As root, each
 * golden file is also fed to `iptables-restore --test`, so a rule iptables would refuse fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { computeServicePorts } from '../service-model.js';
import { cases, NODE, svc, slice, three } from '../golden-cases.js';
import { chainPrefixFor, renderRestore, renderServicePort, type IptablesRenderOptions } from './render-iptables.js';

const here = dirname(fileURLToPath(import.meta.url)).replace(`${join('dist', 'src')}`, 'src');
const options: IptablesRenderOptions = { prefix: 'SKtest', clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000', nodeIPs: ['198.51.100.10'] };

function render(services: Service[], slices: EndpointSlice[]): string {
  const ports = computeServicePorts(services, slices, NODE).map((sp) => renderServicePort(sp, options));
  return renderRestore({ ports }, options);
}

describe('iptables rules (golden files)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = render(c.services, c.slices);
      const file = join(here, 'testdata', `${c.name}.rules`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, got);
      assert.equal(got, readFileSync(file, 'utf8'), `rules differ from ${file} (UPDATE_GOLDEN=1 rewrites it)`);
    });
  }

  it('iptables-restore --test accepts every golden file', { skip: process.getuid?.() !== 0 || !existsSync('/usr/sbin/iptables-restore') ? 'needs root and iptables-restore' : false }, async () => {
    for (const c of cases) {
      const text = render(c.services, c.slices);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('iptables-restore', ['-w', '5', '--noflush', '--test'], (err, _stdout, stderr) => (err ? reject(new Error(`${c.name}: ${stderr || err.message}`)) : resolve()));
        child.stdin!.end(text);
      });
    }
  });
});

describe('chain prefixes', () => {
  it('differ between agents and keep chain names within 28 characters', () => {
    const a = chainPrefixFor('/tmp/a');
    const b = chainPrefixFor('/tmp/b');
    assert.notEqual(a, b);
    const text = render(cases[0]!.services, cases[0]!.slices).replaceAll('SKtest', a);
    for (const m of text.matchAll(/^:(\S+)/gm)) assert.ok(m[1]!.length <= 28, `${m[1]} is longer than 28`);
  });

  it('a partial sync writes the changed ports chains only, and deletes stale ones', () => {
    const ports = computeServicePorts([svc('web', {}), svc('api', { clusterIP: '10.81.0.11' })], [slice('web', three), slice('api', three)], NODE).map((sp) => renderServicePort(sp, options));
    const text = renderRestore({ ports, changed: new Set(['ns/web:http/TCP']), staleNatChains: ['SKtest-SEP-OLD'] }, options);
    const api = ports.find((p) => p.key === 'ns/api:http/TCP')!;
    const web = ports.find((p) => p.key === 'ns/web:http/TCP')!;
    for (const c of api.natChains) assert.ok(!text.includes(`:${c} `), `unchanged chain ${c} is rewritten`);
    for (const c of web.natChains) assert.ok(text.includes(`:${c} `));
    assert.match(text, /-A SKtest-SERVICES .*ns\/api:http cluster IP/);
    assert.match(text, /:SKtest-SEP-OLD - \[0:0\]\n[\s\S]*-X SKtest-SEP-OLD\n/);
  });
});
