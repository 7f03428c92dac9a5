import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../api/object.js';
import { StatusError } from '../../api/status.js';
import { decodeProtobufObject } from './decode.js';
import { bool, bytes, double, envelope, fixed32, int, key, mapEntry, message, str, varint } from './wire-builder.js';
import { WIRE_START_GROUP, WIRE_END_GROUP } from './wire-reader.js';

/** The fixtures folder beside the source (tests also run compiled from dist/, which has no .txt files). */
function fixturesDir(): string {
  const here = fileURLToPath(new URL('./fixtures/', import.meta.url));
  return existsSync(join(here, 'configmap.txt')) ? here : here.replace(join('dist', 'src'), 'src');
}

function readFixture(name: string): Buffer {
  const text = readFileSync(join(fixturesDir(), `${name}.txt`), 'utf8');
  return Buffer.from(
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join(''),
    'hex',
  );
}

/** Asserts that decoding fails with a 400 BadRequest whose message matches. */
function assertBadRequest(body: Buffer, message: RegExp): void {
  assert.throws(
    () => decodeProtobufObject(body),
    (err: unknown) => {
      assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
      assert.equal(err.code, 400);
      assert.equal(err.reason, 'BadRequest');
      assert.match(err.message, /^unable to decode protobuf body: /);
      assert.match(err.message, message);
      return true;
    },
  );
}

// Field numbers below are upstream's (generated.proto of k8s.io/api and apimachinery), written out so the
// tests also check the schema table's numbers.
const objectMeta = (...parts: Buffer[]) => message(1, ...parts);

describe('decodeProtobufObject: real kubectl 1.32 request bodies', () => {
  const fixtures = readdirSync(fixturesDir())
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4));

  it('has the captured fixtures', () => {
    for (const name of ['configmap', 'secret', 'deployment', 'service', 'namespace', 'job', 'cronjob', 'role', 'serviceaccount', 'priorityclass']) {
      assert.ok(fixtures.includes(name), `fixtures/${name}.txt is missing`);
    }
  });

  // kubectl 1.31 sent JSON for the same commands (fixtures/<name>.json): the decoded protobuf must be that
  // object exactly, so the rest of the server sees no difference between the two clients.
  for (const name of fixtures) {
    it(`${name}: equals the JSON body kubectl 1.31 sent for the same command`, () => {
      const json = JSON.parse(readFileSync(join(fixturesDir(), `${name}.json`), 'utf8')) as unknown;
      assert.deepEqual(decodeProtobufObject(readFixture(name)), json);
    });
  }

  it('configmap: data a=1, b=two, and no empty metadata strings', () => {
    const cm = decodeProtobufObject(readFixture('configmap'));
    assert.equal(cm.apiVersion, 'v1');
    assert.equal(cm.kind, 'ConfigMap');
    assert.equal(cm.metadata.name, 'cm1');
    assert.deepEqual(cm.data, { a: '1', b: 'two' });
    // kubectl writes generateName "", namespace "", uid "", generation 0 (gogo writes every non-pointer
    // field); none of them is a value the user set.
    for (const field of ['generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'selfLink']) {
      assert.equal(field in cm.metadata, false, `metadata.${field} should be absent`);
    }
    // Go's zero Time, as encoding/json writes it.
    assert.equal(cm.metadata.creationTimestamp, null);
  });

  it('secret: data is base64 of the literal value', () => {
    const s = decodeProtobufObject(readFixture('secret'));
    assert.equal(s.kind, 'Secret');
    assert.deepEqual(s.data, { k: Buffer.from('v').toString('base64') });
  });

  it('deployment: replicas, image, containerPort and selector as given on the command line', () => {
    const d = decodeProtobufObject(readFixture('deployment')) as KubeObject & { spec: any };
    assert.equal(d.apiVersion, 'apps/v1');
    assert.equal(d.kind, 'Deployment');
    assert.equal(d.spec.replicas, 3);
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'd1' } });
    assert.deepEqual(d.spec.template.metadata.labels, { app: 'd1' });
    const [c] = d.spec.template.spec.containers;
    assert.equal(c.image, 'nginx:1.25');
    // hostPort 0 and protocol "" are on the wire but unset (non-pointer omitempty fields).
    assert.deepEqual(c.ports, [{ containerPort: 80 }]);
    assert.equal('restartPolicy' in d.spec.template.spec, false);
  });

  it('deployment --replicas=0: an explicit zero in a pointer field survives', () => {
    const d = decodeProtobufObject(readFixture('deployment-replicas-0')) as KubeObject & { spec: any };
    assert.equal(d.spec.replicas, 0);
  });

  it('service: port 80 with targetPort 8080 as an integer IntOrString', () => {
    const svc = decodeProtobufObject(readFixture('service')) as KubeObject & { spec: any };
    assert.deepEqual(svc.spec.ports, [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }]);
    assert.equal(typeof svc.spec.ports[0].targetPort, 'number');
    assert.equal(svc.spec.type, 'ClusterIP');
  });

  it('namespace, serviceaccount: only the name', () => {
    assert.equal(decodeProtobufObject(readFixture('namespace')).metadata.name, 'ns1');
    const sa = decodeProtobufObject(readFixture('serviceaccount'));
    assert.equal(sa.kind, 'ServiceAccount');
    assert.equal(sa.metadata.name, 'sa1');
  });

  it('job and cronjob: command, restart policy and schedule', () => {
    const job = decodeProtobufObject(readFixture('job')) as KubeObject & { spec: any };
    assert.deepEqual(job.spec.template.spec.containers[0].command, ['echo', 'hi']);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
    const cj = decodeProtobufObject(readFixture('cronjob')) as KubeObject & { spec: any };
    assert.equal(cj.spec.schedule, '*/5 * * * *');
    assert.deepEqual(cj.spec.jobTemplate.spec.template.spec.containers[0].command, ['echo', 'hi']);
  });

  it('role: rules keep the empty core API group', () => {
    const role = decodeProtobufObject(readFixture('role'));
    assert.deepEqual(role.rules, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]);
  });

  it('priorityclass: value 1000 and the default preemption policy kubectl fills in', () => {
    const pc = decodeProtobufObject(readFixture('priorityclass'));
    assert.equal(pc.value, 1000);
    assert.equal(pc.preemptionPolicy, 'PreemptLowerPriority');
    assert.equal('globalDefault' in pc, false);
  });

  it('quota, pdb, ingress: quantities, a percent IntOrString and an inline-embedded rule value', () => {
    const q = decodeProtobufObject(readFixture('quota')) as KubeObject & { spec: any };
    assert.deepEqual(q.spec.hard, { cpu: '1500m', memory: '1Gi', pods: '10' });
    const pdb = decodeProtobufObject(readFixture('pdb')) as KubeObject & { spec: any };
    assert.equal(pdb.spec.minAvailable, '50%');
    const ing = decodeProtobufObject(readFixture('ingress')) as KubeObject & { spec: any };
    // IngressRule.http lives in the nested IngressRuleValue message (field 2) but is flat in JSON.
    assert.equal(ing.spec.rules[0].host, 'foo.example.com');
    assert.deepEqual(ing.spec.rules[0].http.paths[0].backend, { service: { name: 'svc1', port: { number: 8080 } } });
  });

  it('create token, secret docker-registry, clusterrole, pdb --max-unavailable', () => {
    const tr = decodeProtobufObject(readFixture('token')) as KubeObject & { spec: any };
    assert.equal(tr.apiVersion, 'authentication.k8s.io/v1');
    assert.equal(tr.kind, 'TokenRequest');
    assert.equal(tr.spec.expirationSeconds, 3600);
    // Nil slices and pointers without omitempty are written as null by encoding/json.
    assert.equal(tr.spec.audiences, null);
    assert.equal(tr.spec.boundObjectRef, null);
    const reg = decodeProtobufObject(readFixture('secret-docker-registry'));
    assert.equal(reg.type, 'kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from((reg.data as Record<string, string>)['.dockerconfigjson'], 'base64').toString());
    assert.equal(config.auths['r.example.com'].username, 'u');
    assert.equal(config.auths['r.example.com'].password, 'p');
    const cr = decodeProtobufObject(readFixture('clusterrole'));
    assert.deepEqual(cr.rules, [
      { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] },
      { verbs: ['get'], nonResourceURLs: ['/logs/*'] },
    ]);
    const pdb = decodeProtobufObject(readFixture('pdb-max-unavailable')) as KubeObject & { spec: any };
    assert.equal(pdb.spec.maxUnavailable, 1);
  });

  it('auth can-i and whoami: review objects', () => {
    const ssar = decodeProtobufObject(readFixture('can-i')) as KubeObject & { spec: any };
    assert.equal(ssar.kind, 'SelfSubjectAccessReview');
    assert.deepEqual(ssar.spec.resourceAttributes, { namespace: 'default', verb: 'create', resource: 'pods', subresource: 'log' });
    assert.equal(decodeProtobufObject(readFixture('whoami')).kind, 'SelfSubjectReview');
    const rules = decodeProtobufObject(readFixture('can-i-list')) as KubeObject & { spec: any; status: any };
    assert.deepEqual(rules.spec, { namespace: 'default' });
    assert.deepEqual(rules.status, { resourceRules: null, nonResourceRules: null, incomplete: false });
  });

  it('never throws anything but a 400 StatusError on any truncation or single-byte corruption of real bodies', () => {
    let rejected = 0;
    let decoded = 0;
    for (const name of fixtures) {
      const body = readFixture(name);
      const variants: Buffer[] = [];
      for (let n = 0; n < body.length; n++) variants.push(body.subarray(0, n));
      for (let i = 0; i < body.length; i++) {
        for (const x of [0x00, 0xff, 0x80, 0x07, 0x0a]) {
          const copy = Buffer.from(body);
          copy[i] = x;
          variants.push(copy);
        }
      }
      for (const v of variants) {
        try {
          decodeProtobufObject(v);
          decoded++;
        } catch (err) {
          assert.ok(err instanceof StatusError && err.code === 400, `${name}: ${String(err)}`);
          rejected++;
        }
      }
    }
    // Both outcomes occur: corruption inside a string decodes, structural damage is refused.
    assert.ok(rejected > 1000 && decoded > 100, `rejected ${rejected}, decoded ${decoded}`);
  });
});

describe('decodeProtobufObject: special types', () => {
  it('Time: seconds as RFC 3339 in UTC, fraction dropped as metav1.Time does; empty is null', () => {
    const body = envelope('v1', 'ConfigMap', objectMeta(str(1, 'c'), message(8, int(1, 1704164645), int(2, 999)), message(9)));
    const cm = decodeProtobufObject(body);
    assert.equal(cm.metadata.creationTimestamp, '2024-01-02T03:04:05Z');
    assert.equal(cm.metadata.deletionTimestamp, null);
  });

  it('Time: epoch and pre-1970 times', () => {
    const at = (seconds: number) =>
      decodeProtobufObject(envelope('v1', 'ConfigMap', objectMeta(message(8, int(1, seconds))))).metadata.creationTimestamp;
    assert.equal(at(0), '1970-01-01T00:00:00Z');
    assert.equal(at(-1), '1969-12-31T23:59:59Z');
    assert.equal(at(-62135596800), null); // Go's zero time, written by a client that did not skip it
  });

  it('MicroTime: six fractional digits (Lease acquireTime/renewTime)', () => {
    const body = envelope(
      'coordination.k8s.io/v1',
      'Lease',
      message(2, str(1, 'holder'), int(2, 15), message(3, int(1, 1704164645), int(2, 123456789)), message(4, int(1, 1704164645))),
    );
    const lease = decodeProtobufObject(body) as KubeObject & { spec: any };
    assert.deepEqual(lease.spec, {
      holderIdentity: 'holder',
      leaseDurationSeconds: 15,
      acquireTime: '2024-01-02T03:04:05.123456Z',
      renewTime: '2024-01-02T03:04:05.000000Z',
    });
  });

  it('Quantity: the string as sent, in maps and fields', () => {
    const body = envelope('v1', 'ResourceQuota', message(2, mapEntry(1, 'cpu', message(2, str(1, '250m'))), mapEntry(1, 'memory', message(2, str(1, '64Mi')))));
    assert.deepEqual((decodeProtobufObject(body) as any).spec.hard, { cpu: '250m', memory: '64Mi' });
    // emptyDir.sizeLimit inside the inline-embedded VolumeSource (Volume field 2).
    const pod = envelope('v1', 'Pod', message(2, message(1, str(1, 'scratch'), message(2, message(2, str(1, 'Memory'), message(2, str(1, '1Gi')))))));
    assert.deepEqual((decodeProtobufObject(pod) as any).spec.volumes, [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } }]);
  });

  it('IntOrString: type 0 is the int, type 1 the string', () => {
    const svc = (...targetPort: Buffer[]) =>
      (decodeProtobufObject(envelope('v1', 'Service', message(2, message(1, int(3, 80), message(4, ...targetPort))))) as any).spec.ports[0].targetPort;
    assert.equal(svc(int(1, 0), int(2, 8080), str(3, '')), 8080);
    assert.equal(svc(int(1, 1), int(2, 0), str(3, 'http')), 'http');
    assert.equal(svc(), 0); // a present but empty IntOrString is Go's zero: the int 0
    // Probe handler httpGet.port, through the inline-embedded ProbeHandler (Probe field 1).
    const pod = envelope('v1', 'Pod', message(2, message(2, str(1, 'c'), message(10, message(1, message(2, str(1, '/healthz'), message(2, int(1, 1), str(3, 'web')))), int(2, 5)))));
    const probe = (decodeProtobufObject(pod) as any).spec.containers[0].livenessProbe;
    assert.deepEqual(probe, { httpGet: { path: '/healthz', port: 'web' }, initialDelaySeconds: 5 });
  });

  it('RawExtension: embedded JSON, or an embedded protobuf object (ControllerRevision.data)', () => {
    const json = envelope('apps/v1', 'ControllerRevision', objectMeta(str(1, 'rev')), message(2, bytes(1, Buffer.from('{"spec":{"x":[1,2]}}'))), int(3, 2));
    const rev = decodeProtobufObject(json);
    assert.deepEqual(rev.data, { spec: { x: [1, 2] } });
    assert.equal(rev.revision, 2);
    const inner = envelope('v1', 'ConfigMap', objectMeta(str(1, 'inner')), mapEntry(2, 'k', str(2, 'v')));
    const nested = decodeProtobufObject(envelope('apps/v1', 'ControllerRevision', message(2, bytes(1, inner)), int(3, 1)));
    assert.deepEqual(nested.data, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inner' }, data: { k: 'v' } });
    // WatchEvent is accepted under any group version, as the apiserver registers it in all of them.
    const ev = decodeProtobufObject(envelope('apps/v1', 'WatchEvent', str(1, 'ADDED'), message(2)));
    assert.equal(ev.type, 'ADDED');
    assert.equal(ev.object, null);
  });

  it('FieldsV1: managedFields entries carry their field set as JSON', () => {
    const entry = message(17, str(1, 'kubectl'), str(2, 'Update'), str(3, 'v1'), message(4, int(1, 1704164645)), str(6, 'FieldsV1'), message(7, bytes(1, Buffer.from('{"f:data":{"f:a":{}}}'))));
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', objectMeta(str(1, 'c'), entry)));
    assert.deepEqual(cm.metadata.managedFields, [
      { manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2024-01-02T03:04:05Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:a': {} } } },
    ]);
  });

  it('bytes: Secret data and ConfigMap binaryData as base64, empty values kept inside maps', () => {
    const secret = decodeProtobufObject(envelope('v1', 'Secret', mapEntry(2, 'bin', bytes(2, Buffer.from([0, 1, 2, 255]))), mapEntry(2, 'empty', bytes(2, Buffer.alloc(0))), str(3, 'Opaque')));
    assert.deepEqual(secret.data, { bin: 'AAEC/w==', empty: '' });
    assert.equal(secret.type, 'Opaque');
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', mapEntry(3, 'b', bytes(2, Buffer.from('hi')))));
    assert.deepEqual(cm.binaryData, { b: 'aGk=' });
  });

  it('a "__proto__" map key is data, as in a JSON body, not a prototype', () => {
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', mapEntry(2, '__proto__', str(2, 'x')), mapEntry(2, 'b', str(2, 'y'))));
    assert.deepEqual(cm, JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{},"data":{"__proto__":"x","b":"y"}}'));
    assert.equal(Object.getPrototypeOf(cm.data), Object.prototype);
    assert.equal(JSON.stringify(cm.data), '{"__proto__":"x","b":"y"}');
  });

  it('map entries without a value get the zero value; maps of lists use wrapper messages', () => {
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', mapEntry(2, 'novalue', Buffer.alloc(0))));
    assert.deepEqual(cm.data, { novalue: '' });
    // SubjectAccessReviewSpec.extra (5) is map<string, ExtraValue{1: repeated string}>.
    const sar = decodeProtobufObject(
      envelope('authorization.k8s.io/v1', 'SubjectAccessReview', message(2, str(3, 'alice'), str(4, 'devs'), str(4, 'ops'), mapEntry(5, 'scopes', message(2, str(1, 'a'), str(1, 'b'))))),
    ) as any;
    assert.deepEqual(sar.spec, { user: 'alice', groups: ['devs', 'ops'], extra: { scopes: ['a', 'b'] } });
  });

  it('repeated numbers, packed and unpacked; negative and 64-bit integers', () => {
    const packed = Buffer.concat([key(4, 2), varint(3), varint(1), varint(2), varint(3)]);
    const sc = message(14, int(2, 0), packed, int(4, 4), int(5, 2n ** 40n));
    const pod = decodeProtobufObject(envelope('v1', 'Pod', message(2, sc, int(4, -1)))) as any;
    // runAsUser is a pointer: 0 is root, a real value.
    assert.deepEqual(pod.spec.securityContext, { runAsUser: 0, supplementalGroups: [1, 2, 3, 4], fsGroup: 2 ** 40 });
    assert.equal(pod.spec.terminationGracePeriodSeconds, -1);
    const neg = decodeProtobufObject(envelope('scheduling.k8s.io/v1', 'PriorityClass', int(2, -5)));
    assert.equal(neg.value, -5);
  });

  it('booleans: a pointer false is kept, a non-pointer false is unset', () => {
    const pod = decodeProtobufObject(envelope('v1', 'Pod', message(2, message(2, str(1, 'c'), bool(16, false), bool(18, true)), bool(21, false)))) as any;
    assert.deepEqual(pod.spec.containers, [{ name: 'c', tty: true }]);
    assert.equal(pod.spec.automountServiceAccountToken, false);
  });

  it('required fields keep their zero value (Container.name "", PriorityClass.value 0)', () => {
    const pod = decodeProtobufObject(envelope('v1', 'Pod', message(2, message(2, str(1, ''), str(2, 'img'))))) as any;
    assert.deepEqual(pod.spec.containers, [{ name: '', image: 'img' }]);
    assert.equal(decodeProtobufObject(envelope('scheduling.k8s.io/v1', 'PriorityClass', int(2, 0))).value, 0);
  });

  it('a message field sent twice is merged, a scalar sent twice takes the last value', () => {
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', objectMeta(str(1, 'first')), objectMeta(str(3, 'ns')), objectMeta(str(1, 'last'))));
    assert.deepEqual(cm.metadata, { name: 'last', namespace: 'ns' });
  });

  it('skips unknown fields of every wire type, including groups', () => {
    const unknown = Buffer.concat([
      int(99, 123456789),
      double(98, 1.5),
      fixed32(97, 7),
      str(96, 'future'),
      key(95, WIRE_START_GROUP),
      int(1, 1),
      key(2, WIRE_START_GROUP),
      key(2, WIRE_END_GROUP),
      key(95, WIRE_END_GROUP),
    ]);
    const cm = decodeProtobufObject(envelope('v1', 'ConfigMap', unknown, objectMeta(unknown, str(1, 'c')), unknown, mapEntry(2, 'k', str(2, 'v')), bool(4, true)));
    assert.deepEqual(cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'v' }, immutable: true });
    // Unknown envelope fields too.
    assert.equal(decodeProtobufObject(Buffer.concat([envelope('v1', 'ConfigMap'), str(9, 'x'), unknown])).kind, 'ConfigMap');
  });

  it('the envelope kind wins, and an empty raw is an object with empty metadata', () => {
    assert.deepEqual(decodeProtobufObject(envelope('v1', 'Namespace', Buffer.alloc(0))), { apiVersion: 'v1', kind: 'Namespace', metadata: {} });
  });
});

describe('decodeProtobufObject: bad input is a 400 BadRequest', () => {
  const good = envelope('v1', 'ConfigMap', objectMeta(str(1, 'c')));

  it('wrong or missing magic', () => {
    assertBadRequest(Buffer.from('{"kind":"ConfigMap"}'), /prefix 6b 38 73 00.*got "7b 22 6b 69"/);
    assertBadRequest(Buffer.alloc(0), /an empty body/);
    assertBadRequest(Buffer.from([0x6b, 0x38, 0x73]), /prefix/);
  });

  it('truncated varint and lengths past the end', () => {
    assertBadRequest(Buffer.concat([good, key(50, 0), Buffer.from([0x80])]), /truncated varint/);
    assertBadRequest(good.subarray(0, good.length - 1), /runs past the end/);
    const raw = Buffer.concat([key(1, 2), varint(50), str(1, 'c')]);
    assertBadRequest(envelope('v1', 'ConfigMap', raw), /ConfigMap\.metadata: length 50 at offset \d+ runs past the end/);
    assertBadRequest(Buffer.concat([good, key(1, 2), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])]), /runs past the end/);
  });

  it('varints longer than 64 bits and invalid wire types', () => {
    assertBadRequest(Buffer.concat([good, key(50, 0), Buffer.alloc(10, 0xff), Buffer.from([1])]), /overflows 64 bits/);
    assertBadRequest(Buffer.concat([good, key(9, 6)]), /invalid wire type 6 for field 9/);
    assertBadRequest(envelope('v1', 'ConfigMap', key(60, 7)), /invalid wire type 7 for field 60/);
    assertBadRequest(Buffer.concat([good, Buffer.from([0x00])]), /invalid field number 0/);
    assertBadRequest(Buffer.concat([good, key(95, WIRE_START_GROUP), int(1, 1)]), /group 95 has no end/);
  });

  it('wire-type mismatches name the field', () => {
    assertBadRequest(envelope('v1', 'ConfigMap', objectMeta(int(1, 5))), /ConfigMap\.metadata\.name: string has wire type 0, expected 2/);
    assertBadRequest(envelope('apps/v1', 'Deployment', message(2, str(1, '3'))), /Deployment\.spec\.replicas: int32 has wire type 2/);
    assertBadRequest(
      envelope('v1', 'Pod', message(2, message(2, str(1, 'a')), message(2, str(1, 'b'), message(6, str(3, 'x'))))),
      /Pod\.spec\.containers\[1\]\.ports\[0\]\.containerPort: int32 has wire type 2/,
    );
    assertBadRequest(envelope('v1', 'ConfigMap', mapEntry(2, 'key', int(2, 1))), /ConfigMap\.data\["key"\]: string has wire type 0/);
  });

  it('unknown kinds and envelopes without a type', () => {
    assertBadRequest(envelope('v1', 'Frobnicator', Buffer.alloc(0)), /no kind "Frobnicator" is registered for version "v1"/);
    assertBadRequest(envelope('apps/v1', 'ConfigMap', Buffer.alloc(0)), /no kind "ConfigMap" is registered for version "apps\/v1"/);
    assertBadRequest(Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0]), bytes(2, Buffer.alloc(0))]), /names no kind/);
    assertBadRequest(Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0]), message(1, str(2, 'ConfigMap'))]), /names no apiVersion/);
  });

  it('unsupported content encodings and invalid embedded values', () => {
    assertBadRequest(Buffer.concat([good, str(3, 'gzip')]), /contentEncoding "gzip" is not supported/);
    assertBadRequest(Buffer.concat([good, str(4, 'application/yaml')]), /contentType "application\/yaml" is not supported/);
    assertBadRequest(envelope('apps/v1', 'ControllerRevision', message(2, bytes(1, Buffer.from('{nope')))), /ControllerRevision\.data: rawExtension is not valid JSON/);
    assertBadRequest(envelope('v1', 'Service', message(2, message(1, message(4, int(1, 2))))), /IntOrString type 2/);
    assertBadRequest(envelope('v1', 'ConfigMap', objectMeta(message(8, int(1, 1e12)))), /outside the years 0000-9999/);
  });

  it('a JSON raw with contentType application/json is accepted', () => {
    const body = Buffer.concat([envelope('v1', 'ConfigMap', Buffer.from('{"metadata":{"name":"j"},"data":{"a":"b"}}')), str(4, 'application/json')]);
    assert.deepEqual(decodeProtobufObject(body), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'j' }, data: { a: 'b' } });
  });
});

describe('decodeProtobufObject: throughput', () => {
  it('decodes 10,000 kubectl ConfigMap bodies (ops/s reported, not asserted)', (t) => {
    const body = readFixture('configmap');
    const n = 10_000;
    let last: KubeObject | undefined;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) last = decodeProtobufObject(body);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    assert.deepEqual(last?.data, { a: '1', b: 'two' });
    t.diagnostic(`${n} ConfigMap bodies (${body.length} bytes) in ${(seconds * 1000).toFixed(1)} ms: ${Math.round(n / seconds)} ops/s`);
    const deployment = readFixture('deployment');
    const dStart = process.hrtime.bigint();
    for (let i = 0; i < n; i++) decodeProtobufObject(deployment);
    const dSeconds = Number(process.hrtime.bigint() - dStart) / 1e9;
    t.diagnostic(`${n} Deployment bodies (${deployment.length} bytes): ${Math.round(n / dSeconds)} ops/s`);
  });
});
