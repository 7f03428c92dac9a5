/**
 * API Priority and Fairness bootstrap configuration, as kube-apiserver 1.32 keeps it (apiserver's
 * pkg/apis/flowcontrol/bootstrap/default.go and the priority-and-fairness-config-producer post-start hook):
 * - mandatory objects (exempt, catch-all) exist always: created at start, re-created when deleted, their spec put back
 *   while they carry `apf.kubernetes.io/autoupdate-spec: "true"`;
 * - suggested objects (system, node-high, leader-election, workload-high/low, global-default and their schemas) are
 *   created at start when missing and kept up to date while auto-updated, never re-created after a user deletes them;
 * - every FlowSchema's `Dangling` condition says whether its priority level exists.
 * skiff serves these objects but does not enforce them (no request is queued or shed by APF).
 */
import type { FlowSchema, FlowSchemaCondition, PriorityLevelConfiguration } from 'kubernetes-types/flowcontrol/v1.js';
import type { KubeObject } from '../../api/object.js';

export const AUTO_UPDATE_ANNOTATION = 'apf.kubernetes.io/autoupdate-spec';

type Obj = KubeObject;
const meta = (name: string) => ({ name, annotations: { [AUTO_UPDATE_ANNOTATION]: 'true' } });

function pl(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: meta(name), spec };
}

function limited(shares: number, lendablePercent: number, queuing?: { queues: number; handSize: number; queueLengthLimit: number }): Record<string, unknown> {
  return {
    type: 'Limited',
    limited: { nominalConcurrencyShares: shares, lendablePercent, limitResponse: queuing ? { type: 'Queue', queuing } : { type: 'Reject' } },
  };
}

type Subject = Record<string, unknown>;
const group = (name: string): Subject => ({ kind: 'Group', group: { name } });
const user = (name: string): Subject => ({ kind: 'User', user: { name } });
const kubeSystemSA = (name: string): Subject => ({ kind: 'ServiceAccount', serviceAccount: { namespace: 'kube-system', name } });

const allResources = { verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] };
const allNonResources = { verbs: ['*'], nonResourceURLs: ['*'] };
const everything = { resourceRules: [allResources], nonResourceRules: [allNonResources] };

function fs(name: string, level: string, precedence: number, distinguisher: 'ByUser' | 'ByNamespace' | undefined, subjects: Subject[], rules: Record<string, unknown> = everything): Obj {
  return {
    apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
    kind: 'FlowSchema',
    metadata: meta(name),
    spec: {
      priorityLevelConfiguration: { name: level },
      matchingPrecedence: precedence,
      ...(distinguisher ? { distinguisherMethod: { type: distinguisher } } : {}),
      rules: [{ subjects, ...rules }],
    },
  };
}

const anyone = [group('system:unauthenticated'), group('system:authenticated')];

export const mandatoryPriorityLevels: Obj[] = [
  pl('exempt', { type: 'Exempt', exempt: { nominalConcurrencyShares: 0, lendablePercent: 0 } }),
  pl('catch-all', limited(5, 0)),
];

export const mandatoryFlowSchemas: Obj[] = [fs('exempt', 'exempt', 1, undefined, [group('system:masters')]), fs('catch-all', 'catch-all', 10000, 'ByUser', anyone)];

export const suggestedPriorityLevels: Obj[] = [
  pl('system', limited(30, 33, { queues: 64, handSize: 6, queueLengthLimit: 50 })),
  pl('node-high', limited(40, 25, { queues: 64, handSize: 6, queueLengthLimit: 50 })),
  pl('leader-election', limited(10, 0, { queues: 16, handSize: 4, queueLengthLimit: 50 })),
  pl('workload-high', limited(40, 50, { queues: 128, handSize: 6, queueLengthLimit: 50 })),
  pl('workload-low', limited(100, 90, { queues: 128, handSize: 6, queueLengthLimit: 50 })),
  pl('global-default', limited(20, 50, { queues: 128, handSize: 6, queueLengthLimit: 50 })),
];

const leaseRule = (namespaces: string[]) => ({ resourceRules: [{ verbs: ['get', 'create', 'update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], namespaces }] });

export const suggestedFlowSchemas: Obj[] = [
  fs('system-node-high', 'node-high', 400, 'ByUser', [group('system:nodes')], {
    resourceRules: [
      { verbs: ['*'], apiGroups: [''], resources: ['nodes', 'nodes/status'], clusterScope: true },
      { verbs: ['*'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], namespaces: ['*'] },
    ],
  }),
  fs('system-nodes', 'system', 500, 'ByUser', [group('system:nodes')]),
  fs('probes', 'exempt', 2, undefined, anyone, { nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/readyz', '/livez'] }] }),
  fs('system-leader-election', 'leader-election', 100, 'ByUser', [user('system:kube-controller-manager'), user('system:kube-scheduler')], leaseRule(['kube-system'])),
  fs('endpoint-controller', 'workload-high', 150, 'ByUser', [user('system:kube-controller-manager'), kubeSystemSA('endpoint-controller')], {
    resourceRules: [{ verbs: ['get', 'create', 'update'], apiGroups: [''], resources: ['endpoints'], namespaces: ['*'] }],
  }),
  fs('workload-leader-election', 'leader-election', 200, 'ByUser', [kubeSystemSA('*')], leaseRule(['*'])),
  fs('kube-controller-manager', 'workload-high', 800, 'ByNamespace', [user('system:kube-controller-manager')]),
  fs('kube-scheduler', 'workload-high', 800, 'ByNamespace', [user('system:kube-scheduler')]),
  fs('kube-system-service-accounts', 'workload-high', 900, 'ByNamespace', [kubeSystemSA('*')]),
  fs('service-accounts', 'workload-low', 9000, 'ByUser', [group('system:serviceaccounts')]),
  fs('global-default', 'global-default', 9900, 'ByUser', anyone),
];

/** The Dangling condition a FlowSchema should carry, given the priority levels that exist (keeps the transition time). */
export function computeDanglingCondition(schema: FlowSchema, levels: ReadonlySet<string>, now: Date): FlowSchemaCondition {
  const name = schema.spec?.priorityLevelConfiguration?.name ?? '';
  const found = levels.has(name);
  const next: FlowSchemaCondition = found
    ? { type: 'Dangling', status: 'False', reason: 'Found', message: `This FlowSchema references the PriorityLevelConfiguration object named ${JSON.stringify(name)} and it exists` }
    : { type: 'Dangling', status: 'True', reason: 'NotFound', message: `This FlowSchema references the PriorityLevelConfiguration object named ${JSON.stringify(name)} but there is no such object` };
  const prev = schema.status?.conditions?.find((c) => c.type === 'Dangling');
  next.lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return next;
}

/** What the bootstrap needs of the API: the stored objects and writes as the API server itself. */
export interface FlowcontrolApi {
  get(kind: 'flowschemas' | 'prioritylevelconfigurations', name: string): Promise<KubeObject | undefined>;
  list(kind: 'flowschemas' | 'prioritylevelconfigurations'): Promise<KubeObject[]>;
  create(kind: 'flowschemas' | 'prioritylevelconfigurations', obj: KubeObject): Promise<void>;
  /** Replaces the spec of the stored object (compare-and-swap on its resourceVersion). */
  updateSpec(kind: 'flowschemas' | 'prioritylevelconfigurations', current: KubeObject, spec: unknown): Promise<void>;
  updateStatus(kind: 'flowschemas', current: KubeObject, status: unknown): Promise<void>;
}

function kindOf(obj: KubeObject): 'flowschemas' | 'prioritylevelconfigurations' {
  return obj.kind === 'FlowSchema' ? 'flowschemas' : 'prioritylevelconfigurations';
}

/**
 * One pass of the config producer. `initial`: the first pass after start, which also creates missing suggested
 * objects. Objects a user took over (annotation not "true") are left alone. Returns the names it wrote.
 */
export async function ensureFlowcontrolConfiguration(api: FlowcontrolApi, opts: { initial: boolean; now: Date; specsEqual: (a: unknown, b: unknown) => boolean }): Promise<string[]> {
  const wrote: string[] = [];
  const ensure = async (want: KubeObject, createIfMissing: boolean) => {
    const kind = kindOf(want);
    const have = await api.get(kind, want.metadata.name!);
    if (!have) {
      if (!createIfMissing) return;
      await api.create(kind, structuredClone(want));
      wrote.push(`${kind}/${want.metadata.name}`);
      return;
    }
    if (have.metadata.annotations?.[AUTO_UPDATE_ANNOTATION] !== 'true') return;
    if (opts.specsEqual(have.spec, want.spec)) return;
    await api.updateSpec(kind, have, structuredClone(want.spec));
    wrote.push(`${kind}/${want.metadata.name}`);
  };
  // Priority levels first, so new schemas are not dangling for a moment.
  for (const o of mandatoryPriorityLevels) await ensure(o, true);
  for (const o of suggestedPriorityLevels) await ensure(o, opts.initial);
  for (const o of mandatoryFlowSchemas) await ensure(o, true);
  for (const o of suggestedFlowSchemas) await ensure(o, opts.initial);
  const levels = new Set((await api.list('prioritylevelconfigurations')).map((p) => p.metadata.name ?? ''));
  for (const schema of await api.list('flowschemas')) {
    const fsObj = schema as unknown as FlowSchema;
    const cond = computeDanglingCondition(fsObj, levels, opts.now);
    const prev = fsObj.status?.conditions?.find((c) => c.type === 'Dangling');
    if (prev && prev.status === cond.status && prev.reason === cond.reason && prev.message === cond.message) continue;
    const others = (fsObj.status?.conditions ?? []).filter((c) => c.type !== 'Dangling');
    await api.updateStatus('flowschemas', schema, { ...(fsObj.status ?? {}), conditions: [...others, cond] });
    wrote.push(`flowschemas/${schema.metadata.name}/status`);
  }
  return wrote;
}

export type { PriorityLevelConfiguration };
