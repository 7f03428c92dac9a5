import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describe, frameworkFor, makeNode, makePod, runFilter, snapshotOf } from '../../testing/wrappers.js';

type Port = { port: number; protocol?: string; hostIP?: string };
const reason = "node(s) didn't have free ports for the requested pod ports";
const cases: { name: string; used: Port[]; want: Port[]; result: string[] }[] = [
  { name: 'no host ports', used: [{ port: 80 }], want: [], result: ['Success'] },
  { name: 'free port', used: [{ port: 80 }], want: [{ port: 8080 }], result: ['Success'] },
  { name: 'same port and protocol', used: [{ port: 80 }], want: [{ port: 80 }], result: ['Unschedulable', reason] },
  { name: 'same port, other protocol', used: [{ port: 53, protocol: 'TCP' }], want: [{ port: 53, protocol: 'UDP' }], result: ['Success'] },
  { name: 'different host IPs do not clash', used: [{ port: 80, hostIP: '10.0.0.1' }], want: [{ port: 80, hostIP: '10.0.0.2' }], result: ['Success'] },
  { name: '0.0.0.0 clashes with any IP', used: [{ port: 80, hostIP: '10.0.0.1' }], want: [{ port: 80 }], result: ['Unschedulable', reason] },
  { name: 'any IP clashes with 0.0.0.0', used: [{ port: 80 }], want: [{ port: 80, hostIP: '10.0.0.2' }], result: ['Unschedulable', reason] },
];
for (const tc of cases) {
  it(`NodePorts: ${tc.name}`, () => {
    const snap = snapshotOf([makeNode('n1')], [makePod('web', { nodeName: 'n1', hostPorts: tc.used })]);
    const fwk = frameworkFor(['NodePorts'], snap);
    assert.deepEqual(describe(runFilter(fwk, makePod('p', { hostPorts: tc.want.length ? tc.want : undefined }), snap.get('n1')!)), tc.result);
  });
}

it('NodePorts: a deleted pod frees its port', () => {
  const web = makePod('web', { nodeName: 'n1', hostPorts: [{ port: 80 }] });
  const snap = snapshotOf([makeNode('n1')], [web]);
  const fwk = frameworkFor(['NodePorts'], snap);
  const pod = makePod('p', { hostPorts: [{ port: 80 }] });
  assert.deepEqual(describe(runFilter(fwk, pod, snap.get('n1')!)), ['Unschedulable', reason]);
  snap.removePod(web);
  assert.deepEqual(describe(runFilter(fwk, pod, snap.get('n1')!)), ['Success']);
});
