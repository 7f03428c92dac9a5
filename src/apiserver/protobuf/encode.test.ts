import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { typeForKind } from '../../api/schema/schema.js';
import { decodeProtobufObject } from './decode.js';
import { encodeList, encodeMessage, encodeObject, encodePartialMetadata, encodeWatchFrame, envelope, parseGoDuration, parseTime } from './encode.js';
import { goDurationString } from './well-known-types.js';
import { WireReader } from './wire-reader.js';

function fixturesDir(): string {
  const here = fileURLToPath(new URL('./fixtures/', import.meta.url));
  return existsSync(join(here, 'configmap.json')) ? here : here.replace(join('dist', 'src'), 'src');
}

/** JSON without null values: Go writes zero times and nil slices as null, which the encoder leaves out. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  return v;
}

function roundTrip(obj: Record<string, any>): unknown {
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', String(obj.apiVersion)];
  const type = typeForKind(group, version, String(obj.kind));
  assert.ok(type, `${obj.apiVersion} ${obj.kind} is in the schema table`);
  return decodeProtobufObject(encodeObject(type.name, obj));
}

describe('encodeObject: the decoder reads back what the encoder wrote', () => {
  const dir = fixturesDir();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    it(`${name}: kubectl's body survives encode then decode`, () => {
      const json = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      assert.deepEqual(withoutNulls(roundTrip(json)), withoutNulls(json));
    });
  }

  it('a stored Pod with times, quantities, int-or-strings, durations-free probes, maps and managedFields', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'u-1',
        resourceVersion: '42',
        creationTimestamp: '2026-12-07T18:53:44Z',
        labels: { app: 'web', '__proto__': 'x' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '2026-12-07T18:53:44Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:containers': {} } } }],
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-2', controller: true, blockOwnerDeletion: false }],
      },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'nginx',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            resources: { limits: { cpu: '500m', memory: '1Gi' } },
            readinessProbe: { httpGet: { path: '/', port: 'http', scheme: 'HTTP' }, periodSeconds: 10, failureThreshold: 3 },
            livenessProbe: { tcpSocket: { port: 8080 }, initialDelaySeconds: 5 },
            env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k', optional: false } } }],
          },
        ],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        securityContext: { runAsUser: 0 },
        enableServiceLinks: true,
      },
      status: {
        phase: 'Running',
        podIP: '10.42.0.5',
        startTime: '2026-12-07T18:53:45Z',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-07T18:53:46Z' }],
        containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'nginx', imageID: '', state: { running: { startedAt: '2026-12-07T18:53:45Z' } } }],
      },
    };
    assert.deepEqual(roundTrip(pod), pod);
  });

  it('Events keep microsecond times; a negative int32 and a double survive', () => {
    const ev = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'e', namespace: 'default' }, eventTime: '2026-12-07T18:53:44.123456Z', reportingController: 'x', reportingInstance: 'y', action: 'A', reason: 'R', type: 'Normal', regarding: { kind: 'Pod', name: 'p' }, deprecatedCount: -3 };
    assert.deepEqual(roundTrip(ev), ev);
  });
});

describe('lists, partial metadata and watch frames', () => {
  it('a list is {1 ListMeta, 2 items}, each item the message of its kind', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'default', resourceVersion: '7' }, data: { x: '1' } };
    const type = typeForKind('', 'v1', 'ConfigMapList');
    assert.ok(type);
    const body = encodeList('v1', 'ConfigMapList', { resourceVersion: '9', continue: 'abc' }, [encodeMessage('io.k8s.api.core.v1.ConfigMap', cm)]);
    const list = decodeProtobufObject(body) as any;
    assert.equal(list.kind, 'ConfigMapList');
    assert.deepEqual(list.metadata, { resourceVersion: '9', continue: 'abc' });
    assert.deepEqual(list.items, [{ metadata: cm.metadata, data: cm.data }]);
  });

  it('PartialObjectMetadata is {1 ObjectMeta}', () => {
    const raw = encodePartialMetadata({ name: 'a', namespace: 'default', labels: { k: 'v' } });
    const r = new WireReader(raw, 0);
    const t = r.tag();
    assert.equal(t.field, 1);
    const meta = r.message(t.wire, 'metadata');
    const names: number[] = [];
    while (!meta.done) {
      const f = meta.tag();
      names.push(f.field);
      meta.skip(f.wire, f.field);
    }
    // ObjectMeta: 1 name, 3 namespace, 11 labels.
    assert.deepEqual(names, [1, 3, 11]);
    assert.ok(r.done);
    assert.equal(envelope('meta.k8s.io/v1', 'PartialObjectMetadata', raw).subarray(0, 4).toString('latin1'), 'k8s\0');
  });

  it('a watch frame is a big-endian length and a WatchEvent {1 type, 2 {1 raw}}', () => {
    const frame = encodeWatchFrame('ADDED', Buffer.from('k8s\0xyz', 'latin1'));
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    const r = new WireReader(frame.subarray(4), 0);
    let t = r.tag();
    assert.equal(t.field, 1);
    assert.equal(r.stringField(t.wire, 'type'), 'ADDED');
    t = r.tag();
    assert.equal(t.field, 2);
    const obj = r.message(t.wire, 'object');
    const inner = obj.tag();
    assert.equal(inner.field, 1);
    assert.equal(Buffer.from(obj.bytes()).toString('latin1'), 'k8s\0xyz');
  });
});

describe('well-known values', () => {
  it('parses Go durations as time.ParseDuration does, and back', () => {
    for (const d of ['0s', '1h2m3.5s', '500ms', '1.5µs', '-2m0s', '90s']) {
      const nanos = parseGoDuration(d);
      assert.equal(goDurationString(nanos), d === '90s' ? '1m30s' : d);
    }
  });
  it('keeps fractions of MicroTime', () => {
    assert.deepEqual(parseTime('2026-12-07T18:53:44.000123Z'), { seconds: Date.parse('2026-12-07T18:53:44Z') / 1000, nanos: 123000 });
    assert.equal(parseTime('not a time'), undefined);
  });
});
