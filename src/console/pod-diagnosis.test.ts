import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event, Node, Pod } from 'kubernetes-types/core/v1.js';
import { checkNodeFits, diagnosePending, diagnoseRestarts, explainTermination, parseFitError, parseQuantity, podDisplayStatus } from './pod-diagnosis.js';

const pod = (over: Partial<Pod> = {}): Pod => ({ metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'x' }] }, status: { phase: 'Pending' }, ...over });
const node = (name: string, over: Partial<Node> = {}): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: {}, status: { allocatable: { cpu: '2', memory: '4Gi', pods: '110' } }, ...over });

describe('pod diagnosis', () => {
  it('shows the STATUS column as kubectl prints it', () => {
    const cases: [string, Pod, string][] = [
      ['pending', pod(), 'Pending'],
      ['crash loop', pod({ status: { phase: 'Running', containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), 'CrashLoopBackOff'],
      ['oom', pod({ status: { phase: 'Running', containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 1, state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] } }), 'OOMKilled'],
      ['exit code without reason', pod({ status: { phase: 'Failed', containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }] } }), 'ExitCode:2'],
      ['init waiting', pod({ spec: { containers: [{ name: 'app' }], initContainers: [{ name: 'init' }] }, status: { phase: 'Pending', initContainerStatuses: [{ name: 'init', image: 'x', imageID: '', ready: false, restartCount: 0, state: { running: {} } }] } }), 'Init:0/1'],
      ['terminating', pod({ metadata: { name: 'p', deletionTimestamp: '2026-01-01T00:00:00Z' }, status: { phase: 'Running' } }), 'Terminating'],
    ];
    for (const [what, p, want] of cases) assert.equal(podDisplayStatus(p), want, what);
  });

  it('splits the scheduler\'s FitError message into per-reason node counts and preemption', () => {
    const msg = "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient cpu. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.";
    assert.deepEqual(parseFitError(msg), {
      nodes: 5,
      reasons: [
        { count: 1, reason: 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }' },
        { count: 4, reason: 'Insufficient cpu' },
      ],
      preemption: '0/5 nodes are available: 5 Preemption is not helpful for scheduling.',
    });
    assert.deepEqual(parseFitError('something else'), { reasons: [] });
  });

  it('takes the reason from the PodScheduled condition, else the newest FailedScheduling event; none once scheduled', () => {
    const ev = (message: string, at: string): Event => ({ metadata: { name: `p.${at}` }, involvedObject: { kind: 'Pod', name: 'p' }, reason: 'FailedScheduling', message, lastTimestamp: at });
    const events = [ev('0/1 nodes are available: 1 Insufficient memory.', '2026-01-01T00:00:01Z'), ev('0/2 nodes are available: 2 Insufficient cpu.', '2026-01-01T00:00:05Z')];
    assert.equal(diagnosePending(pod(), events)?.message, '0/2 nodes are available: 2 Insufficient cpu.');
    const withCond = pod({ status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Too many pods.' }] } });
    assert.deepEqual(diagnosePending(withCond, events)?.reasons, [{ count: 3, reason: 'Too many pods' }]);
    assert.equal(diagnosePending(pod({ spec: { nodeName: 'n1', containers: [] } }), events), undefined);
    assert.equal(diagnosePending(pod(), []), undefined);
  });

  it('checks the usual filters per node: selector, taints, unschedulable, cpu and memory', () => {
    const p = pod({ spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'app', resources: { requests: { cpu: '1500m', memory: '1Gi' } } }] } });
    const nodes = [
      node('plain'),
      node('ssd-tainted', { metadata: { name: 'ssd-tainted', labels: { disk: 'ssd' } }, spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } }),
      node('ssd-full', { metadata: { name: 'ssd-full', labels: { disk: 'ssd' } } }),
      node('ssd-ok', { metadata: { name: 'ssd-ok', labels: { disk: 'ssd' } } }),
      node('ssd-cordoned', { metadata: { name: 'ssd-cordoned', labels: { disk: 'ssd' } }, spec: { unschedulable: true } }),
    ];
    const running = [pod({ metadata: { name: 'big' }, spec: { nodeName: 'ssd-full', containers: [{ name: 'c', resources: { requests: { cpu: '1', memory: '3500Mi' } } }] }, status: { phase: 'Running' } })];
    const fits = Object.fromEntries(checkNodeFits(p, nodes, running).map((f) => [f.node, f.reasons]));
    assert.deepEqual(fits, {
      plain: ["node(s) didn't match Pod's node affinity/selector (disk=ssd)"],
      'ssd-tainted': ['node(s) had untolerated taint {dedicated: db}'],
      'ssd-full': ['Insufficient cpu', 'Insufficient memory'],
      'ssd-ok': [],
      'ssd-cordoned': ['node(s) were unschedulable'],
    });
    const tolerant = pod({ spec: { ...p.spec!, tolerations: [{ key: 'dedicated', operator: 'Exists' }] } });
    assert.deepEqual(checkNodeFits(tolerant, [nodes[1]!], []).map((f) => f.fits), [true]);
  });

  it('explains restarts: last exit code and reason, its meaning, and probe failures from events', () => {
    const p = pod({
      status: {
        phase: 'Running',
        containerStatuses: [
          { name: 'app', image: 'x', imageID: '', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2026-01-01T00:00:00Z' } } },
          { name: 'side', image: 'x', imageID: '', ready: true, restartCount: 0, state: { running: {} } },
        ],
      },
    });
    const [d, ...rest] = diagnoseRestarts(p, []);
    assert.equal(rest.length, 0, 'a container that never restarted is not listed');
    assert.equal(d!.container, 'app');
    assert.equal(d!.lastExitCode, 137);
    assert.equal(d!.waiting, 'CrashLoopBackOff: back-off 40s restarting failed container');
    assert.match(d!.meaning!, /OOMKilled/);
    const probe: Event = { metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'p', fieldPath: 'spec.containers{app}' }, reason: 'Unhealthy', message: 'Liveness probe failed: HTTP probe failed with statuscode: 500', count: 3 };
    const liveness = pod({ status: { phase: 'Running', containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: true, restartCount: 2, state: { running: {} }, lastState: { terminated: { exitCode: 137, reason: 'Error' } } }] } });
    const [l] = diagnoseRestarts(liveness, [probe]);
    assert.deepEqual(l!.evidence, ['Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500 (x3)']);
    assert.match(l!.meaning!, /liveness probe failed/);
  });

  it('gives exit codes their usual meaning (table)', () => {
    const cases: [number, RegExp][] = [[0, /successfully/], [1, /exited with code 1/], [126, /could not be run/], [127, /not found/], [137, /SIGKILL/], [143, /SIGTERM/], [139, /SIGSEGV/], [130, /signal 2/]];
    for (const [code, want] of cases) assert.match(explainTermination(code, 'Error')!, want, String(code));
    assert.equal(explainTermination(undefined, undefined), undefined);
  });

  it('parses quantities', () => {
    assert.equal(parseQuantity('250m'), 0.25);
    assert.equal(parseQuantity('64Mi'), 64 * 2 ** 20);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('2'), 2);
    assert.ok(Number.isNaN(parseQuantity('12Qx')));
  });
});
