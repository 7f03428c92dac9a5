/**
 * bench/negotiation: the per-request costs the client-quirk work added, each beside its baseline in this run.
 * - Accept negotiation (q values, conversions, protobuf) against the old first-match scan, for the Accept headers
 *   kubectl, client-go and metadata informers send.
 * - Encoding a 500-Pod list: protobuf (built from the schema table) and PartialObjectMetadataList, against the JSON
 *   list assembled from cached text (what a JSON client gets).
 * - encodeForStore, which now gives objects without a status the zero status of their kind, against JSON.stringify.
 * Prints one JSON object; ratios are new / baseline (above 1 = slower). Never a pass/fail.
 * Usage: npm run build && node dist/bench/negotiation.js [--seconds 1]
 */
import { encodeForStore } from '../src/apiserver/object-codec.js';
import { negotiateOutput, negotiateTable, parseAccept } from '../src/apiserver/negotiation.js';
import { encodeList, encodeMessage, encodePartialMetadata } from '../src/apiserver/protobuf/encode.js';
import type { KubeObject } from '../src/api/object.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 1;

/** Operations per second of fn, run for the configured time after a short warm-up. */
function rate(fn: () => unknown): number {
  const warm = performance.now() + 100;
  while (performance.now() < warm) fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** The old negotiation of a list: Table first match, else a JSON-compatible type (handlers/respond.checkAcceptsJson). */
function oldNegotiate(header: string): unknown {
  const accept = parseAccept(header);
  const table = negotiateTable(accept);
  if (table) return table;
  for (const m of accept) {
    if (m.params.as) continue;
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/*' || m.type === 'application/vnd.kubernetes.protobuf' || m.type === 'application/yaml') return 'json';
  }
  return 'json';
}

const ACCEPTS: Record<string, string> = {
  kubectl_table: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
  typed_client: 'application/vnd.kubernetes.protobuf,application/json',
  client_node: 'application/json, */*;q=0.8',
  metadata_informer: 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
};

const negotiation: Record<string, unknown> = {};
for (const [name, header] of Object.entries(ACCEPTS)) {
  const baseline = rate(() => oldNegotiate(header));
  const current = rate(() => negotiateOutput(header, { protobuf: true }));
  negotiation[name] = { baseline_ops_s: Math.round(baseline), ops_s: Math.round(current), ratio: r2(baseline / current) };
}

function pod(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `web-${i}`, namespace: 'default', uid: `uid-${i}`, resourceVersion: String(1000 + i), creationTimestamp: '2026-12-07T19:00:00Z', labels: { app: 'web', 'pod-template-hash': 'abc' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs', controller: true, blockOwnerDeletion: true }] },
    spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: { limits: { cpu: '500m', memory: '128Mi' } }, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', nodeName: 'node-1', schedulerName: 'default-scheduler' },
    status: { phase: 'Running', podIP: `10.42.0.${i % 250}`, startTime: '2026-12-07T19:00:01Z', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-07T19:00:02Z' }] },
  } as unknown as KubeObject;
}

const pods = Array.from({ length: 500 }, (_, i) => pod(i));
const items = pods.map((obj) => ({ obj, json: JSON.stringify(obj) }));
const listMeta = { resourceVersion: '5000' };
const jsonList = () => {
  let body = `{"kind":"PodList","apiVersion":"v1","metadata":${JSON.stringify(listMeta)},"items":[`;
  for (let i = 0; i < items.length; i++) body += (i === 0 ? '' : ',') + items[i].json;
  return Buffer.from(`${body}]}`);
};
const jsonRate = rate(jsonList);
// Uncached: every object encoded again (the server caches each object's message, see the cached figure below).
const protoRate = rate(() => encodeList('v1', 'PodList', listMeta, items.map((it) => encodeMessage('io.k8s.api.core.v1.Pod', it.obj as unknown as Record<string, unknown>))));
const cachedMessages = items.map((it) => encodeMessage('io.k8s.api.core.v1.Pod', it.obj as unknown as Record<string, unknown>));
const protoCachedRate = rate(() => encodeList('v1', 'PodList', listMeta, cachedMessages));
const pomRate = rate(() => encodeList('meta.k8s.io/v1', 'PartialObjectMetadataList', listMeta, items.map((it) => encodePartialMetadata(it.obj.metadata as Record<string, unknown>))));
const sizes = { json_bytes: jsonList().length, protobuf_bytes: encodeList('v1', 'PodList', listMeta, items.map((it) => encodeMessage('io.k8s.api.core.v1.Pod', it.obj as unknown as Record<string, unknown>))).length };

const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } } as unknown as KubeObject;
// Both sides copy the object as a create's decoded body would be fresh; only encodeForStore adds the status.
const storeBaseline = rate(() => JSON.stringify({ ...deployment }));
const storeCurrent = rate(() => encodeForStore({ ...deployment }));
// Where the cost is: serializing the extra `status: {}` itself, without the lookup.
const storeWithStatus = rate(() => JSON.stringify({ ...deployment, status: {} }));

console.log(
  JSON.stringify(
    {
      bench: 'negotiation',
      seconds,
      negotiation,
      list_500_pods: {
        json_lists_s: r2(jsonRate),
        protobuf_lists_s: r2(protoRate),
        protobuf_ratio: r2(jsonRate / protoRate),
        protobuf_cached_lists_s: r2(protoCachedRate),
        protobuf_cached_ratio: r2(jsonRate / protoCachedRate),
        partial_metadata_protobuf_lists_s: r2(pomRate),
        partial_metadata_ratio: r2(jsonRate / pomRate),
        ...sizes,
      },
      encode_for_store_deployment: {
        baseline_ops_s: Math.round(storeBaseline),
        ops_s: Math.round(storeCurrent),
        ratio: r2(storeBaseline / storeCurrent),
        stringify_with_status_ops_s: Math.round(storeWithStatus),
        ratio_to_stringify_with_status: r2(storeWithStatus / storeCurrent),
      },
    },
    null,
    2,
  ),
);
