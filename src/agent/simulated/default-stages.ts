/**
 * The built-in pod lifecycle of simulated nodes, as data (see README.md). The first stage in list order whose
 * selector matches a pod is the one that runs, so the more specific stages come first: deletion wins over
 * everything, failure over completion. Every pod the engine sees is already bound to a running simulated node.
 */
import type { SelectorExpression, Stage } from './stage.js';

/** Go duration ('30s') a pod "runs" before it completes or fails; without it, Job pods complete after 1 s. */
export const DURATION_ANNOTATION = 'skiff.dev/simulate-duration';
/** Exit code of the pod's containers; non-zero makes a run-to-completion pod Failed. */
export const EXIT_CODE_ANNOTATION = 'skiff.dev/simulate-exit-code';

export interface DefaultStageOptions {
  /** Pending -> Running/Ready delay (default 1000 ms; 0 = at once). */
  podReadyDelayMs?: number;
  /** Random extra Pending -> Running delay in [0, jitter] (default 0). */
  podReadyJitterMs?: number;
  /** Running -> Succeeded/Failed delay for pods without the duration annotation (default 1000 ms). */
  podCompleteDelayMs?: number;
  /** Delay before the final delete of a pod with a deletionTimestamp (default 100 ms). */
  podDeleteDelayMs?: number;
}

export const DEFAULT_POD_READY_DELAY_MS = 1000;
export const DEFAULT_POD_COMPLETE_DELAY_MS = 1000;
export const DEFAULT_POD_DELETE_DELAY_MS = 100;

const notDeleting: SelectorExpression = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' };
const running: SelectorExpression = { key: '.status.phase', operator: 'In', values: ['Running'] };
/** Job pods, and pods that run to completion and say for how long (restartPolicy Always pods never complete). */
const runsToCompletion = (): SelectorExpression[][] => [
  [{ key: '.metadata.ownerReferences[*].kind', operator: 'In', values: ['Job'] }],
  [
    { key: '.spec.restartPolicy', operator: 'In', values: ['Never', 'OnFailure'] },
    { key: `.metadata.annotations["${DURATION_ANNOTATION}"]`, operator: 'Exists' },
  ],
];

/** Terminated container state shared by completion and failure. */
const terminated = (reason: string) => ({
  ready: false,
  started: false,
  restartCount: '${restartCount}',
  state: { terminated: { exitCode: '${exitCode}', reason, startedAt: '${startedAt}', finishedAt: '${now}', containerID: '${containerID}' } },
});

export function defaultPodStages(opts: DefaultStageOptions = {}): Stage[] {
  const readyDelay = opts.podReadyDelayMs ?? DEFAULT_POD_READY_DELAY_MS;
  const completeDelay = opts.podCompleteDelayMs ?? DEFAULT_POD_COMPLETE_DELAY_MS;
  return [
    {
      // The kubelet's final DELETE (gracePeriodSeconds 0) once its containers are gone; simulated ones stop at once.
      name: 'pod-delete',
      selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
      delay: { ms: opts.podDeleteDelayMs ?? DEFAULT_POD_DELETE_DELAY_MS },
      next: { delete: true },
    },
    {
      name: 'pod-ready',
      selector: { matchExpressions: [notDeleting, { key: '.status.phase', operator: 'In', values: ['Pending'] }] },
      delay: { ms: readyDelay, ...(opts.podReadyJitterMs ? { jitterMs: opts.podReadyJitterMs } : {}) },
      next: {
        status: {
          phase: 'Running',
          hostIP: '${hostIP}',
          hostIPs: [{ ip: '${hostIP}' }],
          podIP: '${podIP}',
          podIPs: [{ ip: '${podIP}' }],
          startTime: '${startTime}',
        },
        // The conditions a running pod reports (kubelet status manager), in its order.
        conditions: [
          { type: 'PodReadyToStartContainers', status: 'True' },
          { type: 'Initialized', status: 'True' },
          { type: 'Ready', status: 'True' },
          { type: 'ContainersReady', status: 'True' },
          { type: 'PodScheduled', status: 'True' },
        ],
        initContainerStatus: terminated('Completed'),
        containerStatus: {
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: '${now}' } },
        },
      },
    },
    {
      name: 'pod-fail',
      selector: {
        matchExpressions: [
          notDeleting,
          running,
          { key: `.metadata.annotations["${EXIT_CODE_ANNOTATION}"]`, operator: 'NotIn', values: ['0'] },
          { key: `.metadata.annotations["${EXIT_CODE_ANNOTATION}"]`, operator: 'Exists' },
        ],
        anyOf: runsToCompletion(),
      },
      delay: { ms: completeDelay, fromAnnotation: DURATION_ANNOTATION },
      next: {
        status: { phase: 'Failed' },
        conditions: [
          { type: 'PodReadyToStartContainers', status: 'False' },
          { type: 'Ready', status: 'False', reason: 'PodFailed' },
          { type: 'ContainersReady', status: 'False', reason: 'PodFailed' },
        ],
        containerStatus: terminated('Error'),
      },
    },
    {
      name: 'pod-complete',
      selector: { matchExpressions: [notDeleting, running], anyOf: runsToCompletion() },
      delay: { ms: completeDelay, fromAnnotation: DURATION_ANNOTATION },
      next: {
        status: { phase: 'Succeeded' },
        conditions: [
          { type: 'PodReadyToStartContainers', status: 'False' },
          { type: 'Ready', status: 'False', reason: 'PodCompleted' },
          { type: 'ContainersReady', status: 'False', reason: 'PodCompleted' },
        ],
        containerStatus: terminated('Completed'),
      },
    },
  ];
}
