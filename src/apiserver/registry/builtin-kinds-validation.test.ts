/**
 * Table tests of the validation and defaults of ReplicationController, PodTemplate, RuntimeClass, the CSI kinds,
 * FlowSchema, PriorityLevelConfiguration and APIService (upstream's pkg/apis/<group>/validation wording).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { byGroupVersionResource } from './index.js';
import type { ResourceDefinition } from './types.js';

const def = (group: string, plural: string): ResourceDefinition => {
  const d = byGroupVersionResource(group, 'v1', plural);
  assert.ok(d, plural);
  return d;
};

/** Defaults as on create, then validation; the errors as `field: detail`. */
function errorsOf(d: ResourceDefinition, obj: Record<string, unknown>): string[] {
  const o = structuredClone(obj) as unknown as KubeObject;
  o.metadata ??= {};
  d.strategy.prepareForCreate?.(o);
  return d.strategy.validate(o).map((e) => `${e.field}: ${e.detail}`);
}

const containers = [{ name: 'c', image: 'nginx' }];
const rcSpec = (spec: Record<string, unknown>) => ({ metadata: { name: 'rc', namespace: 'default' }, spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers } }, ...spec } });

const cases: Array<[string, ResourceDefinition, Record<string, unknown>, RegExp[]]> = [
  ['rc: valid, selector defaulted from the template', def('', 'replicationcontrollers'), rcSpec({}), []],
  ['rc: negative replicas', def('', 'replicationcontrollers'), rcSpec({ replicas: -1 }), [/^spec.replicas: Invalid value: -1: must be greater than or equal to 0$/]],
  ['rc: selector not matching', def('', 'replicationcontrollers'), rcSpec({ selector: { app: 'db' } }), [/^spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`$/]],
  ['rc: restartPolicy Never', def('', 'replicationcontrollers'), rcSpec({ template: { metadata: { labels: { a: 'b' } }, spec: { containers, restartPolicy: 'Never' } } }), [/^spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"$/]],
  ['rc: no template', def('', 'replicationcontrollers'), { metadata: { name: 'rc', namespace: 'default' }, spec: { selector: { a: 'b' } } }, [/^spec.template: Required value$/]],
  ['podtemplate: no containers', def('', 'podtemplates'), { metadata: { name: 'p', namespace: 'default' }, template: { spec: {} } }, [/^template.spec.containers: Required value$/]],
  ['runtimeclass: valid', def('node.k8s.io', 'runtimeclasses'), { metadata: { name: 'r' }, handler: 'runc', overhead: { podFixed: { cpu: '100m' } } }, []],
  ['runtimeclass: handler required', def('node.k8s.io', 'runtimeclasses'), { metadata: { name: 'r' } }, [/^handler: Required value$/]],
  ['runtimeclass: negative overhead', def('node.k8s.io', 'runtimeclasses'), { metadata: { name: 'r' }, handler: 'runc', overhead: { podFixed: { cpu: '-1' } } }, [/^overhead.podFixed\[cpu\]: Invalid value: "-1": must be greater than or equal to 0$/]],
  ['runtimeclass: bad toleration', def('node.k8s.io', 'runtimeclasses'), { metadata: { name: 'r' }, handler: 'runc', scheduling: { tolerations: [{ key: 'k', operator: 'Bogus' }] } }, [/^scheduling.tolerations\[0\].operator: Unsupported value: "Bogus"/]],
  ['csidriver: valid, defaults', def('storage.k8s.io', 'csidrivers'), { metadata: { name: 'csi.example.com' }, spec: {} }, []],
  ['csidriver: bad name', def('storage.k8s.io', 'csidrivers'), { metadata: { name: '-bad' }, spec: {} }, [/^metadata.name: Invalid value: "-bad": /]],
  ['csidriver: fsGroupPolicy', def('storage.k8s.io', 'csidrivers'), { metadata: { name: 'csi.example.com' }, spec: { fsGroupPolicy: 'Sometimes' } }, [/^spec.fsGroupPolicy: Unsupported value: "Sometimes"/]],
  ['csidriver: short token', def('storage.k8s.io', 'csidrivers'), { metadata: { name: 'csi.example.com' }, spec: { tokenRequests: [{ audience: 'a', expirationSeconds: 60 }] } }, [/^spec.tokenRequests\[0\].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes$/]],
  ['csinode: duplicate driver, missing nodeID', def('storage.k8s.io', 'csinodes'), { metadata: { name: 'n' }, spec: { drivers: [{ name: 'a.csi', nodeID: 'x' }, { name: 'a.csi' }] } }, [/^spec.drivers\[1\].name: Duplicate value: "a.csi"$/, /^spec.drivers\[1\].nodeID: Required value/]],
  ['csistoragecapacity: class required', def('storage.k8s.io', 'csistoragecapacities'), { metadata: { name: 'c', namespace: 'default' }, capacity: '1Gi' }, [/^storageClassName: Required value$/]],
  ['volumeattachment: both sources', def('storage.k8s.io', 'volumeattachments'), { metadata: { name: 'v' }, spec: { attacher: 'a.csi', nodeName: 'n', source: { persistentVolumeName: 'pv', inlineVolumeSpec: {} } } }, [/^spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName$/]],
  ['flowschema: valid, precedence defaulted', def('flowcontrol.apiserver.k8s.io', 'flowschemas'), { metadata: { name: 'f' }, spec: { priorityLevelConfiguration: { name: 'p' }, rules: [{ subjects: [{ kind: 'User', user: { name: 'u' } }], nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/x'] }] }] } }, []],
  ['flowschema: empty rule', def('flowcontrol.apiserver.k8s.io', 'flowschemas'), { metadata: { name: 'f' }, spec: { priorityLevelConfiguration: { name: 'p' }, rules: [{ subjects: [{ kind: 'Robot' }] }] } }, [/^spec.rules\[0\].subjects\[0\].kind: Unsupported value: "Robot"/, /^spec.rules\[0\]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty$/]],
  ['prioritylevel: valid limited, queuing defaulted', def('flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations'), { metadata: { name: 'p' }, spec: { type: 'Limited', limited: {} } }, []],
  ['prioritylevel: hand larger than queues', def('flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations'), { metadata: { name: 'p' }, spec: { type: 'Limited', limited: { limitResponse: { type: 'Queue', queuing: { queues: 4, handSize: 8, queueLengthLimit: 10 } } } } }, [/^spec.limited.limitResponse.queuing.handSize: Invalid value: 8: should not be greater than queues \(4\)$/]],
  ['prioritylevel: limited missing', def('flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations'), { metadata: { name: 'p' }, spec: { type: 'Limited' } }, [/^spec.limited: Required value/]],
  ['apiservice: valid', def('apiregistration.k8s.io', 'apiservices'), { metadata: { name: 'v1.x.io' }, spec: { group: 'x.io', version: 'v1', service: { namespace: 'a', name: 'b' }, insecureSkipTLSVerify: true, groupPriorityMinimum: 1, versionPriority: 1 } }, []],
  ['apiservice: priorities and Local caBundle', def('apiregistration.k8s.io', 'apiservices'), { metadata: { name: 'v1.x.io' }, spec: { group: 'x.io', version: 'v1', caBundle: 'AAAA', groupPriorityMinimum: 0, versionPriority: 2000 } }, [/^spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000$/, /^spec.versionPriority: Invalid value: 2000: must be positive and less than 1000$/, /^spec.caBundle: Invalid value: "3 bytes": local APIServices may not have a caBundle$/]],
  ['apiservice: both caBundle and insecure', def('apiregistration.k8s.io', 'apiservices'), { metadata: { name: 'v1.x.io' }, spec: { group: 'x.io', version: 'v1', service: { namespace: 'a', name: 'b', port: 70000 }, caBundle: 'AAAA', insecureSkipTLSVerify: true, groupPriorityMinimum: 1, versionPriority: 1 } }, [/^spec.service.port: Invalid value: 70000: port is not valid: /, /^spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present$/]],
];

describe('validation of the 1.32 kinds added with the aggregator', () => {
  for (const [name, d, obj, want] of cases) {
    it(name, () => {
      const errs = errorsOf(d, obj);
      assert.equal(errs.length, want.length, errs.join('\n'));
      want.forEach((re, i) => assert.match(errs[i]!, re));
    });
  }

  it('defaults as upstream sets them', () => {
    const rc = structuredClone(rcSpec({})) as unknown as KubeObject;
    def('', 'replicationcontrollers').strategy.prepareForCreate!(rc);
    assert.deepEqual([(rc.spec as any).selector, (rc.spec as any).replicas, rc.metadata.labels], [{ app: 'web' }, 1, { app: 'web' }]);
    const pl = { metadata: { name: 'p' }, spec: { type: 'Limited', limited: {} } } as unknown as KubeObject;
    def('flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations').strategy.prepareForCreate!(pl);
    assert.deepEqual((pl.spec as any).limited, { nominalConcurrencyShares: 30, lendablePercent: 0, limitResponse: { type: 'Queue', queuing: { queues: 64, handSize: 8, queueLengthLimit: 50 } } });
    const as = { metadata: { name: 'v1.x.io' }, spec: { service: { namespace: 'a', name: 'b' } } } as unknown as KubeObject;
    def('apiregistration.k8s.io', 'apiservices').strategy.prepareForCreate!(as);
    assert.equal((as.spec as any).service.port, 443);
  });

  it('immutable fields on update', () => {
    const rcls = def('node.k8s.io', 'runtimeclasses');
    const errs = rcls.strategy.validateUpdate!({ metadata: { name: 'r' }, handler: 'kata' } as unknown as KubeObject, { metadata: { name: 'r' }, handler: 'runc' } as unknown as KubeObject);
    assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), ['handler: Invalid value: "kata": field is immutable']);
    const va = def('storage.k8s.io', 'volumeattachments');
    assert.equal(va.strategy.validateUpdate!({ metadata: { name: 'v' }, spec: { nodeName: 'b' } } as unknown as KubeObject, { metadata: { name: 'v' }, spec: { nodeName: 'a' } } as unknown as KubeObject)[0]?.field, 'spec');
  });
});
