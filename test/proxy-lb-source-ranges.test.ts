/**
 * loadBalancerSourceRanges in the kernel, for the iptables and the nftables renderers: two fresh network namespaces,
 * a "node" holding the rendered rules, the load-balancer IP (as a local address, the VIP-like case) and an endpoint,
 * and a "client" with one address inside the Service's range and one outside. From inside the range the LB IP answers
 * (DNATed to the endpoint); from outside nothing answers (dropped: no reply and no reset). Without the firewall the
 * outside address would be DNATed like the inside one.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { NODE, slice, svc } from '../src/proxy/golden-cases.js';
import { jumpRules, renderRestore, renderServicePort } from '../src/proxy/iptables/render-iptables.js';
import { renderNftables, renderNftPort } from '../src/proxy/nftables/render-nftables.js';
import { computeServicePorts } from '../src/proxy/service-model.js';

const run = promisify(execFile);
const skip =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces, rules)'
    : ['/usr/sbin/iptables-restore', '/usr/sbin/nft', '/usr/bin/curl', '/usr/sbin/ip'].find((p) => !existsSync(p)) ?? false;

const LB_IP = '192.0.2.30';
const ENDPOINT = '10.71.0.3';
const INSIDE = '203.0.113.5';
const OUTSIDE = '198.51.100.2';

const model = () =>
  computeServicePorts(
    [svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/25'], ports: [{ name: 'http', port: 80, nodePort: 31104 }] }, { loadBalancer: { ingress: [{ ip: LB_IP }] } })],
    [slice('web', [{ ip: ENDPOINT }])],
    NODE,
  );

for (const mode of ['iptables', 'nftables'] as const) {
  describe(`loadBalancerSourceRanges in the kernel (${mode})`, { skip }, () => {
    const id = randomBytes(3).toString('hex');
    const nodeNs = `sklbr-n-${id}`;
    const clientNs = `sklbr-c-${id}`;
    const inNode = (args: string[]) => run('ip', ['netns', 'exec', nodeNs, ...args]);
    const inClient = (args: string[]) => run('ip', ['netns', 'exec', clientNs, ...args]);
    let server: ChildProcess | undefined;

    before(async () => {
      await run('ip', ['netns', 'add', nodeNs]);
      await run('ip', ['netns', 'add', clientNs]);
      await run('ip', ['link', 'add', `lbn${id}`, 'type', 'veth', 'peer', 'name', `lbc${id}`]);
      await run('ip', ['link', 'set', `lbn${id}`, 'netns', nodeNs]);
      await run('ip', ['link', 'set', `lbc${id}`, 'netns', clientNs]);
      for (const cmd of [
        ['ip', 'link', 'set', 'lo', 'up'],
        ['ip', 'addr', 'add', '198.51.100.1/24', 'dev', `lbn${id}`],
        ['ip', 'link', 'set', `lbn${id}`, 'up'],
        ['ip', 'addr', 'add', `${LB_IP}/32`, 'dev', 'lo'],
        ['ip', 'addr', 'add', `${ENDPOINT}/32`, 'dev', 'lo'],
        ['ip', 'route', 'add', `${INSIDE}/32`, 'via', OUTSIDE],
      ]) await inNode(cmd);
      for (const cmd of [
        ['ip', 'link', 'set', 'lo', 'up'],
        ['ip', 'addr', 'add', `${OUTSIDE}/24`, 'dev', `lbc${id}`],
        ['ip', 'addr', 'add', `${INSIDE}/32`, 'dev', `lbc${id}`],
        ['ip', 'link', 'set', `lbc${id}`, 'up'],
        ['ip', 'route', 'add', `${LB_IP}/32`, 'via', '198.51.100.1'],
      ]) await inClient(cmd);
      server = spawn('ip', ['netns', 'exec', nodeNs, process.execPath, '-e', `require('http').createServer((q, s) => s.end('endpoint')).listen(8080, '${ENDPOINT}', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        server!.stdout!.once('data', () => resolve());
        server!.once('exit', (code) => reject(new Error(`the endpoint server exited (${code})`)));
      });
      if (mode === 'iptables') {
        const o = { prefix: `SK${id.slice(0, 4)}`, clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000' };
        const text = renderRestore({ ports: model().map((sp) => renderServicePort(sp, o)) }, o);
        await new Promise<void>((resolve, reject) => {
          const child = execFile('ip', ['netns', 'exec', nodeNs, 'iptables-restore', '-w', '5', '--noflush'], (err, _o, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve()));
          child.stdin!.end(text);
        });
        for (const j of jumpRules(o.prefix)) await inNode(['iptables', '-w', '5', '-t', j.table, '-A', j.chain, ...j.args]);
      } else {
        const o = { table: 'skiff-lbr', clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000' };
        const script = renderNftables({ ports: model().map((sp) => renderNftPort(sp, o)) }, o);
        await new Promise<void>((resolve, reject) => {
          const child = execFile('ip', ['netns', 'exec', nodeNs, 'nft', '-f', '-'], (err, _o, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve()));
          child.stdin!.end(script);
        });
      }
    });

    after(async () => {
      server?.kill('SIGKILL');
      await run('ip', ['netns', 'del', nodeNs]).catch(() => undefined);
      await run('ip', ['netns', 'del', clientNs]).catch(() => undefined);
    });

    /** curl from the client with source address `from`: the body, or curl's exit code (28: timed out, 7: refused). */
    const ask = (from: string) =>
      inClient(['curl', '-s', '-m', '1.5', '--interface', from, `http://${LB_IP}:80/`]).then(
        (r) => r.stdout,
        (err: { code?: number }) => `curl exit ${err.code}`,
      );

    it('a source inside the range reaches the endpoint; one outside is dropped (no answer, no reset)', async () => {
      assert.equal(await ask(INSIDE), 'endpoint');
      assert.equal(await ask(OUTSIDE), 'curl exit 28');
      assert.equal(await ask(INSIDE), 'endpoint', 'the range still answers after a drop');
    });
  });
}
