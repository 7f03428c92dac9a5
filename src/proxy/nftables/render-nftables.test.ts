/**
 * Golden-file tests of the nftables rules (testdata/<case>.nft, the same table of cases as the iptables renderer;
 * `UPDATE_GOLDEN=1` rewrites). As root each script is checked by `nft -c -f` (parsed and validated by the kernel,
 * not applied), and a partial sync script against a table a full sync made.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { cases, NODE, slice, svc, three } from '../golden-cases.js';
import { computeServicePorts } from '../service-model.js';
import { renderNftables, renderNftPort, type NftablesRenderOptions } from './render-nftables.js';

const here = dirname(fileURLToPath(import.meta.url)).replace(`${join('dist', 'src')}`, 'src');
const options: NftablesRenderOptions = { table: 'skiff-test', clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000', nodeIPs: ['198.51.100.10'] };

function render(services: Service[], slices: EndpointSlice[], o = options): string {
  return renderNftables({ ports: computeServicePorts(services, slices, NODE).map((sp) => renderNftPort(sp, o)) }, o);
}

function nft(args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, (err, _o, stderr) => (err ? reject(new Error(`${stderr || err.message}\n--- script:\n${input}`)) : resolve()));
    child.stdin!.end(input);
  });
}
const canRun = process.getuid?.() === 0 && existsSync('/usr/sbin/nft');

describe('nftables rules (golden files)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = render(c.services, c.slices);
      const file = join(here, 'testdata', `${c.name}.nft`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, got);
      assert.equal(got, readFileSync(file, 'utf8'), `rules differ from ${file} (UPDATE_GOLDEN=1 rewrites it)`);
    });
  }

  it('nft -c accepts every golden script, and a partial sync after a full one', { skip: canRun ? false : 'needs root and nft' }, async () => {
    for (const c of cases) await nft(['-c', '-f', '-'], render(c.services, c.slices));
    // Partial syncs need the table to exist: made for real under a table name of this test's own, then deleted.
    const o = { ...options, table: `skiff-t${process.pid}` };
    try {
      const ports = computeServicePorts([svc('web', {}), svc('api', { clusterIP: '10.81.0.11', sessionAffinity: 'ClientIP' })], [slice('web', three), slice('api', three)], NODE).map((sp) => renderNftPort(sp, o));
      await nft(['-f', '-'], renderNftables({ ports }, o));
      const changedPorts = computeServicePorts([svc('web', {}), svc('api', { clusterIP: '10.81.0.11', sessionAffinity: 'ClientIP' })], [slice('web', three.slice(1)), slice('api', three)], NODE).map((sp) => renderNftPort(sp, o));
      const before = ports.find((p) => p.key === 'ns/web:http/TCP')!;
      const after = changedPorts.find((p) => p.key === 'ns/web:http/TCP')!;
      const stale = [...before.chains.keys()].filter((c) => !after.chains.has(c));
      assert.equal(stale.length, 1, 'one endpoint chain went away');
      await nft(['-f', '-'], renderNftables({ ports: changedPorts, changed: new Set(['ns/web:http/TCP']), staleChains: stale }, o));
    } finally {
      await nft(['-f', '-'], `delete table ip ${o.table}\n`).catch(() => undefined);
    }
  });
});
