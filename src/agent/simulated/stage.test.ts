import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStageResult, simulatedContainerID } from './compute-stage-result.js';
import { defaultPodStages } from './default-stages.js';
import { parseGoDuration } from './go-duration.js';
import type { Pod } from './objects.js';
import { compileStages, matchStage, renderTemplate, stageDelayMs, StageValidationError, type Stage } from './stage.js';

const ok: Stage = {
  name: 'ok',
  selector: { matchExpressions: [{ key: '.status.phase', operator: 'In', values: ['Pending'] }] },
  next: { status: { phase: 'Running' } },
};

function pod(over: { phase?: string; annotations?: Record<string, string>; owner?: string; restartPolicy?: string; deleting?: boolean } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'default',
      uid: 'uid-1',
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.owner ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: over.owner, name: 'o', uid: 'o-uid' }] } : {}),
      ...(over.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}),
    },
    spec: {
      nodeName: 'sim-node-0',
      restartPolicy: (over.restartPolicy ?? 'Always') as 'Always',
      containers: [{ name: 'app', image: 'nginx:1.25' }, { name: 'side', image: 'registry:5000/team/side' }],
    },
    status: { phase: (over.phase ?? 'Pending') as 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-12-31T00:00:00Z' }] },
  };
}

describe('compileStages rejects bad stage definitions with the stage and field named', () => {
  const cases: { name: string; stages: unknown; want: RegExp }[] = [
    { name: 'not a list', stages: { name: 'x' }, want: /stages must be a list/ },
    { name: 'missing name', stages: [{ ...ok, name: '' }], want: /stages\[0\]: name: Required value/ },
    { name: 'duplicate name', stages: [ok, ok], want: /stage "ok": name: Duplicate value: "ok"/ },
    { name: 'unknown top-level field', stages: [{ ...ok, weight: 3 }], want: /stage "ok": weight: unknown field/ },
    { name: 'no selector', stages: [{ name: 'a', next: ok.next }], want: /stage "a": selector: Required value/ },
    { name: 'empty selector', stages: [{ ...ok, selector: {} }], want: /stage "ok": selector: must hold at least one expression/ },
    {
      name: 'bad operator',
      stages: [{ ...ok, selector: { matchExpressions: [{ key: '.status.phase', operator: 'Like', values: ['x'] }] } }],
      want: /selector\.matchExpressions\[0\]\.operator: Unsupported value: "Like": supported values: "In", "NotIn", "Exists", "DoesNotExist"/,
    },
    {
      name: 'In without values',
      stages: [{ ...ok, selector: { matchExpressions: [{ key: '.status.phase', operator: 'In' }] } }],
      want: /matchExpressions\[0\]\.values: must be a non-empty list of strings for operator In/,
    },
    {
      name: 'Exists with values',
      stages: [{ ...ok, selector: { matchExpressions: [{ key: '.status.phase', operator: 'Exists', values: ['a'] }] } }],
      want: /values: must be empty for operator Exists/,
    },
    {
      name: 'path without leading dot',
      stages: [{ ...ok, selector: { matchExpressions: [{ key: 'status.phase', operator: 'Exists' }] } }],
      want: /key: Invalid value: "status.phase": must start with "\."/,
    },
    {
      name: 'unterminated bracket key',
      stages: [{ ...ok, selector: { matchExpressions: [{ key: '.metadata.annotations["a/b', operator: 'Exists' }] } }],
      want: /key: Invalid value: .*unterminated/,
    },
    { name: 'empty anyOf', stages: [{ ...ok, selector: { ...ok.selector, anyOf: [] } }], want: /selector\.anyOf: must be a non-empty list/ },
    { name: 'negative delay', stages: [{ ...ok, delay: { ms: -5 } }], want: /stage "ok": delay\.ms: Invalid value: -5: must be a finite number >= 0/ },
    { name: 'delay as a number', stages: [{ ...ok, delay: 1000 }], want: /delay: must be an object like \{ ms: 1000 \}/ },
    { name: 'jitter not a number', stages: [{ ...ok, delay: { ms: 1, jitterMs: '5' } }], want: /delay\.jitterMs: Invalid value: "5"/ },
    { name: 'no next', stages: [{ name: 'a', selector: ok.selector }], want: /stage "a": next: Required value/ },
    { name: 'empty next', stages: [{ ...ok, next: {} }], want: /next: must set at least one of/ },
    { name: 'delete with a status', stages: [{ ...ok, next: { delete: true, status: { phase: 'Failed' } } }], want: /next\.delete: cannot be combined with status/ },
    { name: 'delete false', stages: [{ ...ok, next: { delete: false } }], want: /next\.delete: Invalid value: false: must be true/ },
    { name: 'unknown variable', stages: [{ ...ok, next: { status: { podIP: '${podIp}' } } }], want: /next\.status\.podIP: unknown variable \$\{podIp\}: known variables: now, startTime, podIP/ },
    {
      name: 'container variable in pod status',
      stages: [{ ...ok, next: { status: { message: 'started ${containerID}' } } }],
      want: /unknown variable \$\{containerID\} \(only in containerStatus and initContainerStatus\)/,
    },
    { name: 'conditions inside status', stages: [{ ...ok, next: { status: { conditions: [] } } }], want: /conditions and container statuses are set through next\.conditions/ },
    { name: 'bad condition status', stages: [{ ...ok, next: { conditions: [{ type: 'Ready', status: 'Yes' }] } }], want: /next\.conditions\[0\]\.status: Unsupported value: "Yes"/ },
    { name: 'templated container name', stages: [{ ...ok, next: { containerStatus: { name: 'x' } } }], want: /next\.containerStatus\.name: is set from the container/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => compileStages(c.stages),
        (err: unknown) => err instanceof StageValidationError && c.want.test(err.message),
      );
    });
  }

  it('reports every problem of a list at once', () => {
    const err = (() => {
      try {
        compileStages([{ ...ok, delay: { ms: -1 } }, { ...ok, name: 'b', next: {} }]);
      } catch (e) {
        return e as StageValidationError;
      }
      return undefined;
    })();
    assert.ok(err);
    assert.equal(err.problems.length, 2, err.message);
  });

  it('accepts the default stages', () => {
    assert.deepEqual(
      compileStages(defaultPodStages()).map((s) => s.name),
      ['pod-delete', 'pod-ready', 'pod-fail', 'pod-complete'],
    );
  });
});

describe('default stage selection (first match in list order)', () => {
  const stages = compileStages(defaultPodStages());
  const cases: { name: string; pod: Pod; want: string | undefined }[] = [
    { name: 'pending pod', pod: pod(), want: 'pod-ready' },
    { name: 'deleting pending pod', pod: pod({ deleting: true }), want: 'pod-delete' },
    { name: 'deleting succeeded pod', pod: pod({ phase: 'Succeeded', deleting: true }), want: 'pod-delete' },
    { name: 'running Deployment pod', pod: pod({ phase: 'Running', owner: 'ReplicaSet' }), want: undefined },
    { name: 'running Job pod', pod: pod({ phase: 'Running', owner: 'Job', restartPolicy: 'Never' }), want: 'pod-complete' },
    { name: 'running Job pod with exit code 0', pod: pod({ phase: 'Running', owner: 'Job', annotations: { 'skiff.dev/simulate-exit-code': '0' } }), want: 'pod-complete' },
    { name: 'running Job pod with exit code 2', pod: pod({ phase: 'Running', owner: 'Job', annotations: { 'skiff.dev/simulate-exit-code': '2' } }), want: 'pod-fail' },
    { name: 'bare pod, Never, with duration', pod: pod({ phase: 'Running', restartPolicy: 'Never', annotations: { 'skiff.dev/simulate-duration': '5s' } }), want: 'pod-complete' },
    { name: 'bare pod, Never, without duration', pod: pod({ phase: 'Running', restartPolicy: 'Never' }), want: undefined },
    { name: 'bare pod, Always, with duration', pod: pod({ phase: 'Running', annotations: { 'skiff.dev/simulate-duration': '5s' } }), want: undefined },
    { name: 'succeeded pod', pod: pod({ phase: 'Succeeded', owner: 'Job' }), want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(matchStage(stages, c.pod)?.name, c.want));
  }
});

describe('stage delays', () => {
  const [complete] = defaultPodStages({ podCompleteDelayMs: 700 }).filter((s) => s.name === 'pod-complete');
  it('take the duration annotation when it parses', () => {
    assert.deepEqual(stageDelayMs(complete!, pod({ annotations: { 'skiff.dev/simulate-duration': '1m30s' } }), () => 0), { ms: 90_000 });
  });
  it('fall back to ms and say why when it does not', () => {
    const d = stageDelayMs(complete!, pod({ annotations: { 'skiff.dev/simulate-duration': 'soon' } }), () => 0);
    assert.equal(d.ms, 700);
    assert.match(d.annotationError ?? '', /skiff\.dev\/simulate-duration="soon" is not a duration/);
  });
  it('add jitter from the random source', () => {
    assert.equal(stageDelayMs({ ...ok, delay: { ms: 100, jitterMs: 1000 } }, pod(), () => 0.25).ms, 350);
  });
});

describe('parseGoDuration', () => {
  const cases: [string, number | undefined][] = [
    ['0', 0],
    ['500ms', 500],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1500us', 1.5],
    ['', undefined],
    ['5', undefined],
    ['-1s', undefined],
    ['1s2', undefined],
    ['s', undefined],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text), () => assert.equal(parseGoDuration(text), want));
});

describe('renderTemplate', () => {
  it('keeps the type of a whole-string placeholder and interpolates the rest', () => {
    assert.deepEqual(renderTemplate({ code: '${exitCode}', msg: 'exit ${exitCode} on ${nodeName}', list: ['${nodeName}'] }, { exitCode: 3, nodeName: 'n1' }), {
      code: 3,
      msg: 'exit 3 on n1',
      list: ['n1'],
    });
  });
});

describe('computeStageResult with the default stages', () => {
  const byName = new Map(defaultPodStages().map((s) => [s.name, s]));
  const now = new Date(Date.UTC(2025, 0, 1, 0, 0, 5));

  it('pod-ready: Running, addresses, start time, containers running and ready, conditions True', () => {
    const r = computeStageResult(pod(), byName.get('pod-ready')!, { now, hostIP: '10.254.0.1', podIP: '10.42.0.2' });
    assert.equal(r.delete, false);
    if (r.delete) return;
    const s = r.pod.status!;
    assert.equal(s.phase, 'Running');
    assert.equal(s.podIP, '10.42.0.2');
    assert.deepEqual(s.podIPs, [{ ip: '10.42.0.2' }]);
    assert.equal(s.hostIP, '10.254.0.1');
    assert.equal(s.startTime, '2025-01-01T00:00:05Z');
    assert.deepEqual(
      s.containerStatuses!.map((c) => [c.name, c.ready, c.started, c.restartCount, c.state?.running?.startedAt, c.containerID]),
      [
        ['app', true, true, 0, '2025-01-01T00:00:05Z', simulatedContainerID('uid-1', 'app')],
        ['side', true, true, 0, '2025-01-01T00:00:05Z', simulatedContainerID('uid-1', 'side')],
      ],
    );
    assert.match(s.containerStatuses![0]!.containerID!, /^simulated:\/\/[0-9a-f]{64}$/);
    assert.equal(s.containerStatuses![0]!.imageID, `nginx@sha256:${s.containerStatuses![0]!.imageID!.split('@sha256:')[1]}`);
    assert.match(s.containerStatuses![1]!.imageID!, /^registry:5000\/team\/side@sha256:[0-9a-f]{64}$/);
    const conds = Object.fromEntries(s.conditions!.map((c) => [c.type, c.status]));
    assert.deepEqual(conds, { PodScheduled: 'True', PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'True', ContainersReady: 'True' });
    // PodScheduled did not change status, so its transition time stays.
    assert.equal(s.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime, '2024-12-31T00:00:00Z');
    assert.equal(s.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, '2025-01-01T00:00:05Z');
  });

  it('pod-ready on a hostNetwork pod uses the node address', () => {
    const p = pod();
    (p.spec as { hostNetwork?: boolean }).hostNetwork = true;
    const r = computeStageResult(p, byName.get('pod-ready')!, { now, hostIP: '10.254.0.9' });
    assert.equal(!r.delete && r.pod.status!.podIP, '10.254.0.9');
  });

  it('pod-fail: terminated with the annotated exit code, reason Error, container start time kept', () => {
    const running = computeStageResult(pod({ owner: 'Job', annotations: { 'skiff.dev/simulate-exit-code': '7' } }), byName.get('pod-ready')!, { now, hostIP: 'h', podIP: 'i' });
    assert.ok(!running.delete);
    const later = new Date(now.getTime() + 60_000);
    const r = computeStageResult(running.pod, byName.get('pod-fail')!, { now: later, hostIP: 'h' });
    assert.ok(!r.delete);
    const cs = r.pod.status!.containerStatuses![0]!;
    assert.equal(r.pod.status!.phase, 'Failed');
    assert.deepEqual(cs.state, {
      terminated: { exitCode: 7, reason: 'Error', startedAt: '2025-01-01T00:00:05Z', finishedAt: '2025-01-01T00:01:05Z', containerID: cs.containerID },
    });
    assert.equal(cs.containerID, simulatedContainerID('uid-1', 'app'));
    assert.equal(cs.ready, false);
    assert.equal(r.pod.status!.podIP, 'i', 'the address stays in the status of a finished pod');
    assert.equal(r.pod.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'PodFailed');
  });

  it('pod-delete is a delete', () => {
    assert.deepEqual(computeStageResult(pod({ deleting: true }), byName.get('pod-delete')!, { now, hostIP: 'h' }), { delete: true });
  });

  it('does not touch the input pod', () => {
    const p = pod();
    const before = structuredClone(p);
    computeStageResult(p, byName.get('pod-ready')!, { now, hostIP: 'h', podIP: 'i' });
    assert.deepEqual(p, before);
  });
});
