import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { conflict, notFound, StatusError } from '../../api/status.js';
import { evictPod, type EvictionDeleteOptions, type EvictionStore } from './pod-eviction.js';

const NS = 'default';
const NOW = new Date('2025-01-01T12:00:00Z');
const NOW_TEXT = '2025-01-01T12:00:00Z';

/** An in-memory EvictionStore with resourceVersions, compare-and-swap and delete preconditions, recording writes. */
class MemoryStore implements EvictionStore {
  pods = new Map<string, KubeObject>();
  pdbs = new Map<string, KubeObject>();
  deletes: { name: string; opts: EvictionDeleteOptions }[] = [];
  statusWrites: { name: string; status: Record<string, unknown> }[] = [];
  /** Runs before each updatePdbStatus; lets a test play a concurrent writer. */
  beforePdbWrite?: (store: MemoryStore) => void;
  /** Runs before each deletePod. */
  beforeDelete?: (store: MemoryStore) => void;
  private rv = 100;

  addPod(pod: KubeObject): void {
    this.pods.set(pod.metadata.name!, { ...pod, metadata: { uid: `uid-${pod.metadata.name}`, ...pod.metadata, namespace: NS, resourceVersion: String(++this.rv) } });
  }

  addPdb(pdb: KubeObject): void {
    this.pdbs.set(pdb.metadata.name!, { ...pdb, metadata: { generation: 1, ...pdb.metadata, namespace: NS, resourceVersion: String(++this.rv) } });
  }

  /** Changes a stored pod as another writer would (new resourceVersion). */
  touchPod(name: string, change: (pod: KubeObject) => void): void {
    const pod = structuredClone(this.pods.get(name)!);
    change(pod);
    pod.metadata.resourceVersion = String(++this.rv);
    this.pods.set(name, pod);
  }

  touchPdb(name: string, change: (pdb: KubeObject) => void): void {
    const pdb = structuredClone(this.pdbs.get(name)!);
    change(pdb);
    pdb.metadata.resourceVersion = String(++this.rv);
    this.pdbs.set(name, pdb);
  }

  async getPod(namespace: string, name: string): Promise<KubeObject> {
    const pod = this.pods.get(name);
    if (!pod || namespace !== NS) throw notFound({ resource: 'pods', name });
    return structuredClone(pod);
  }

  async listPdbs(namespace: string): Promise<KubeObject[]> {
    return namespace === NS ? [...this.pdbs.values()].map((p) => structuredClone(p)) : [];
  }

  async updatePdbStatus(pdb: KubeObject, status: Record<string, unknown>, dryRun: boolean): Promise<void> {
    this.beforePdbWrite?.(this);
    const name = pdb.metadata.name!;
    const current = this.pdbs.get(name);
    if (!current) throw notFound({ group: 'policy', resource: 'poddisruptionbudgets', name });
    if (current.metadata.resourceVersion !== pdb.metadata.resourceVersion) throw conflict({ group: 'policy', resource: 'poddisruptionbudgets', name });
    if (dryRun) return;
    this.statusWrites.push({ name, status: structuredClone(status) });
    this.pdbs.set(name, { ...current, status: structuredClone(status), metadata: { ...current.metadata, resourceVersion: String(++this.rv) } });
  }

  async deletePod(namespace: string, name: string, opts: EvictionDeleteOptions): Promise<void> {
    this.beforeDelete?.(this);
    const pod = this.pods.get(name);
    if (!pod) throw notFound({ resource: 'pods', name });
    const p = opts.preconditions;
    if ((p?.uid !== undefined && p.uid !== pod.metadata.uid) || (p?.resourceVersion !== undefined && p.resourceVersion !== pod.metadata.resourceVersion)) {
      throw conflict({ resource: 'pods', name }, 'the precondition does not match');
    }
    this.deletes.push({ name, opts: structuredClone(opts) });
    if (!opts.dryRun) this.pods.delete(name);
  }
}

/** A store that can also write pod status, so evicted pods get the DisruptionTarget condition. */
class StatusWritingStore extends MemoryStore {
  podStatusWrites: KubeObject[] = [];
  beforePodStatusWrite?: (store: StatusWritingStore) => void;

  async updatePodStatus(pod: KubeObject): Promise<KubeObject> {
    this.beforePodStatusWrite?.(this);
    const current = this.pods.get(pod.metadata.name!);
    if (!current) throw notFound({ resource: 'pods', name: pod.metadata.name });
    if (current.metadata.resourceVersion !== pod.metadata.resourceVersion) throw conflict({ resource: 'pods', name: pod.metadata.name });
    this.podStatusWrites.push(structuredClone(pod));
    this.touchPod(pod.metadata.name!, (p) => (p.status = structuredClone(pod.status)));
    return structuredClone(this.pods.get(pod.metadata.name!)!);
  }
}

function pod(name: string, o: { phase?: string; ready?: boolean; deleting?: boolean; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2025-01-01T11:59:00Z' } : {}) },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
    status: { phase: o.phase ?? 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

function pdb(name: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name },
    spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } }, ...spec },
    status: { observedGeneration: 1, expectedPods: 3, ...status },
  };
}

const eviction = (name: string, deleteOptions?: Record<string, unknown>, apiVersion = 'policy/v1') => ({ apiVersion, kind: 'Eviction', metadata: { name, namespace: NS }, ...(deleteOptions ? { deleteOptions } : {}) });

const evict = (store: MemoryStore, name: string, body: unknown = eviction(name), dryRun = false) => evictPod(store, NS, name, body, { dryRun, now: NOW });

/** Asserts the promise rejects with a StatusError; returns its Status for further checks. */
async function statusOf(p: Promise<unknown>): Promise<StatusError['status']> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
    return err.status;
  }
  assert.fail('expected the eviction to be refused');
}

describe('evictPod', () => {
  it('without a budget deletes the pod with the deleteOptions given', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    await evict(s, 'a', eviction('a', { gracePeriodSeconds: 0, preconditions: { uid: 'uid-a' } }));
    assert.deepEqual(s.deletes, [{ name: 'a', opts: { dryRun: false, gracePeriodSeconds: 0, preconditions: { uid: 'uid-a' } } }]);
    assert.equal(s.pods.size, 0);
  });

  it('a budget with room spends one disruption, records the pod, then deletes it', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(
      pdb('web', {
        disruptionsAllowed: 1,
        currentHealthy: 3,
        desiredHealthy: 2,
        conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 1 }],
      }),
    );
    await evict(s, 'a');
    assert.deepEqual(s.statusWrites, [
      {
        name: 'web',
        status: {
          observedGeneration: 1,
          expectedPods: 3,
          disruptionsAllowed: 0,
          currentHealthy: 3,
          desiredHealthy: 2,
          disruptedPods: { a: NOW_TEXT },
          conditions: [{ type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', lastTransitionTime: NOW_TEXT, observedGeneration: 1 }],
        },
      },
    ]);
    assert.deepEqual(s.deletes, [{ name: 'a', opts: { dryRun: false } }], 'the budget was checked, so the delete is not pinned');
  });

  it('a budget with no room answers 429 with upstream message and cause, and deletes nothing', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }));
    const status = await statusOf(evict(s, 'a'));
    assert.deepEqual(
      { code: status.code, reason: status.reason, message: status.message, details: status.details },
      {
        code: 429,
        reason: 'TooManyRequests',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' }] },
      },
    );
    assert.deepEqual(s.deletes, []);
    assert.deepEqual(s.statusWrites, []);
  });

  it('a budget whose status is older than its spec answers 429 with retryAfterSeconds 10', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb({ ...pdb('web', { disruptionsAllowed: 5, observedGeneration: 1 }), metadata: { name: 'web', generation: 2 } });
    const status = await statusOf(evict(s, 'a'));
    assert.equal(status.code, 429);
    assert.deepEqual(status.details, { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web is still being processed by the server.' }], retryAfterSeconds: 10 });
    assert.deepEqual(s.deletes, []);
  });

  it('refuses with 403 on a negative budget and on too many unconfirmed evictions', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: -1 }));
    const negative = await statusOf(evict(s, 'a'));
    assert.deepEqual([negative.code, negative.reason, negative.message], [403, 'Forbidden', 'poddisruptionbudget.policy "web" is forbidden: pdb disruptions allowed is negative']);

    const disruptedPods = Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`p${i}`, NOW_TEXT]));
    s.touchPdb('web', (p) => (p.status = { ...(p.status as object), disruptionsAllowed: 3, disruptedPods }));
    const tooBig = await statusOf(evict(s, 'a'));
    assert.equal(tooBig.message, 'poddisruptionbudget.policy "web" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller');
    assert.deepEqual(s.deletes, []);
  });

  it('more than one matching budget is a 500 with upstream message; budgets that do not select the pod do not count', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: 1 }));
    s.addPdb(pdb('other-app', { disruptionsAllowed: 0 }, { selector: { matchLabels: { app: 'db' } } }));
    s.addPdb(pdb('no-selector', { disruptionsAllowed: 0 }, { selector: undefined }));
    await evict(s, 'a');
    assert.equal(s.deletes.length, 1);

    s.addPod(pod('b'));
    s.addPdb(pdb('everything', { disruptionsAllowed: 1 }, { selector: {} }));
    const status = await statusOf(evict(s, 'b'));
    assert.deepEqual([status.code, status.message], [500, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.']);
  });

  it('terminal, Pending and terminating pods are deleted whatever the budget says; only Pending is pinned', async () => {
    const s = new MemoryStore();
    s.addPdb(pdb('web', { disruptionsAllowed: 0 }));
    const cases = [
      { pod: pod('done', { phase: 'Succeeded', ready: false }), pinned: false },
      { pod: pod('failed', { phase: 'Failed', ready: false }), pinned: false },
      { pod: pod('pending', { phase: 'Pending', ready: false }), pinned: true },
      { pod: pod('going', { deleting: true }), pinned: false },
    ];
    for (const c of cases) {
      s.addPod(c.pod);
      const rv = s.pods.get(c.pod.metadata.name!)!.metadata.resourceVersion;
      await evict(s, c.pod.metadata.name!);
      assert.deepEqual(s.deletes.at(-1), { name: c.pod.metadata.name, opts: c.pinned ? { dryRun: false, preconditions: { resourceVersion: rv } } : { dryRun: false } });
    }
    assert.deepEqual(s.statusWrites, []);
  });

  it('a Pending pod that starts running before the delete is judged by the budget on the retry', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a', { phase: 'Pending', ready: false }));
    s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }));
    let raced = false;
    s.beforeDelete = (st) => {
      if (raced) return;
      raced = true;
      st.touchPod('a', (p) => (p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }));
    };
    const status = await statusOf(evict(s, 'a'));
    assert.equal(status.code, 429);
    assert.ok(s.pods.has('a'));
  });

  it('a caller-pinned resourceVersion that is stale is a conflict, not retried', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a', { phase: 'Pending' }));
    const status = await statusOf(evict(s, 'a', eviction('a', { preconditions: { resourceVersion: '1' } })));
    assert.equal(status.reason, 'Conflict');
  });

  describe('unready pods (unhealthyPodEvictionPolicy)', () => {
    it('IfHealthyBudget (the default): deleted without spending a disruption while the application is healthy', async () => {
      for (const policy of [undefined, 'IfHealthyBudget']) {
        const s = new MemoryStore();
        s.addPod(pod('sick', { ready: false }));
        s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }, policy ? { unhealthyPodEvictionPolicy: policy } : {}));
        await evict(s, 'sick');
        const rv = '101';
        assert.deepEqual(s.deletes, [{ name: 'sick', opts: { dryRun: false, preconditions: { resourceVersion: rv } } }], String(policy));
        assert.deepEqual(s.statusWrites, []);
      }
    });

    it('IfHealthyBudget: while the application is disrupted the budget decides', async () => {
      const s = new MemoryStore();
      s.addPod(pod('sick', { ready: false }));
      s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 }));
      assert.equal((await statusOf(evict(s, 'sick'))).code, 429);
      s.touchPdb('web', (p) => (p.status = { ...(p.status as object), disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0 }));
      assert.equal((await statusOf(evict(s, 'sick'))).code, 429, 'desiredHealthy 0 is not a healthy application');
    });

    it('AlwaysAllow: an unready pod goes even when the application is disrupted; a ready one still needs the budget', async () => {
      const s = new MemoryStore();
      s.addPod(pod('sick', { ready: false }));
      s.addPod(pod('fine'));
      s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 }, { unhealthyPodEvictionPolicy: 'AlwaysAllow' }));
      await evict(s, 'sick');
      assert.deepEqual(
        s.deletes.map((d) => d.name),
        ['sick'],
      );
      assert.equal((await statusOf(evict(s, 'fine'))).code, 429);
    });

    it('a pod that turned Ready between the decision and the delete gets 429 (come back), not a deletion', async () => {
      const s = new MemoryStore();
      s.addPod(pod('sick', { ready: false }));
      s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }));
      s.beforeDelete = (st) => st.touchPod('sick', (p) => (p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }));
      const status = await statusOf(evict(s, 'sick'));
      assert.deepEqual([status.code, status.details?.retryAfterSeconds], [429, 10]);
      assert.ok(s.pods.has('sick'));
    });
  });

  it('a concurrent budget write is retried on the fresh budget', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: 2, currentHealthy: 4, desiredHealthy: 2 }));
    let raced = false;
    s.beforePdbWrite = (st) => {
      if (raced) return;
      raced = true;
      // Another eviction spent one disruption first.
      st.touchPdb('web', (p) => (p.status = { ...(p.status as object), disruptionsAllowed: 1, disruptedPods: { other: NOW_TEXT } }));
    };
    await evict(s, 'a');
    assert.equal(s.statusWrites.length, 1);
    assert.deepEqual(s.statusWrites[0]!.status.disruptedPods, { other: NOW_TEXT, a: NOW_TEXT });
    assert.equal(s.statusWrites[0]!.status.disruptionsAllowed, 0);
  });

  it('when racing writers take the last disruption, the retry answers 429', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 }));
    s.beforePdbWrite = (st) => st.touchPdb('web', (p) => (p.status = { ...(p.status as object), disruptionsAllowed: 0 }));
    assert.equal((await statusOf(evict(s, 'a'))).code, 429);
    assert.ok(s.pods.has('a'));
  });

  it('dry run: decides, writes no budget, and deletes in dry-run mode (query or body)', async () => {
    for (const [body, query] of [
      [eviction('a'), true],
      [eviction('a', { dryRun: ['All'] }), false],
    ] as const) {
      const s = new MemoryStore();
      s.addPod(pod('a'));
      s.addPdb(pdb('web', { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 }));
      await evict(s, 'a', body, query);
      assert.deepEqual(s.statusWrites, []);
      assert.deepEqual(s.deletes, [{ name: 'a', opts: { dryRun: true } }]);
      assert.ok(s.pods.has('a'));
    }
    const s = new MemoryStore();
    s.addPod(pod('a'));
    s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }));
    assert.equal((await statusOf(evict(s, 'a', eviction('a'), true))).code, 429, 'a dry run is refused like the real thing');
  });

  it('validates the Eviction against the URL', async () => {
    const s = new MemoryStore();
    s.addPod(pod('a'));
    const cases: [unknown, number, RegExp][] = [
      [eviction('b'), 400, /^name in URL does not match name in Eviction object$/],
      [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' } }, 400, /^not a Eviction object/],
      [{ ...eviction('a'), metadata: { name: 'a', namespace: 'other' } }, 400, /namespace of the provided object does not match/],
      [eviction('a', { dryRun: ['Yes'] }), 422, /^DeleteOptions.meta.k8s.io "" is invalid: dryRun\[0\]: Unsupported value: "Yes": supported values: "All"$/],
      [eviction('a', { gracePeriodSeconds: 'soon' }), 400, /gracePeriodSeconds must be an integer/],
      ['not an object', 400, /must be an Eviction object/],
    ];
    for (const [body, code, message] of cases) {
      const status = await statusOf(evict(s, 'a', body));
      assert.equal(status.code, code, JSON.stringify(body));
      assert.match(status.message ?? '', message);
    }
    assert.deepEqual(s.deletes, []);
    await evict(s, 'a', eviction('a', undefined, 'policy/v1beta1'));
    assert.equal(s.deletes.length, 1, 'policy/v1beta1 Evictions are accepted too');
  });

  it('a missing pod is a 404 for the pod', async () => {
    const status = await statusOf(evict(new MemoryStore(), 'nope'));
    assert.deepEqual([status.code, status.message], [404, 'pods "nope" not found']);
  });

  describe('the DisruptionTarget condition (stores that write pod status)', () => {
    const target = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastTransitionTime: NOW_TEXT };

    it('is added to the pod before it is deleted, with and without a budget', async () => {
      const s = new StatusWritingStore();
      s.addPod(pod('a'));
      s.addPod(pod('b', { labels: { app: 'other' } }));
      s.addPdb(pdb('web', { disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 }));
      let seenBeforeDelete: unknown;
      s.beforeDelete = (st) => (seenBeforeDelete = (st.pods.get('a')?.status as { conditions: unknown[] } | undefined)?.conditions);
      await evict(s, 'a');
      assert.deepEqual(seenBeforeDelete, [{ type: 'Ready', status: 'True' }, target]);
      s.beforeDelete = undefined;
      await evict(s, 'b');
      assert.deepEqual(
        s.podStatusWrites.map((p) => p.metadata.name),
        ['a', 'b'],
      );
      assert.deepEqual(
        s.deletes.map((d) => d.name),
        ['a', 'b'],
      );
    });

    it('a pinned delete follows the resourceVersion of the condition write', async () => {
      const s = new StatusWritingStore();
      s.addPod(pod('pending', { phase: 'Pending', ready: false }));
      await evict(s, 'pending');
      assert.equal(s.deletes.length, 1);
      const written = s.podStatusWrites[0]!;
      assert.notEqual(s.deletes[0]!.opts.preconditions?.resourceVersion, written.metadata.resourceVersion, 'not the version read before the write');
      assert.equal(s.pods.size, 0, 'the pinned delete matched the pod as we wrote it');
    });

    it('the caller\'s preconditions are checked against the pod the condition would be written on', async () => {
      const s = new StatusWritingStore();
      s.addPod(pod('a'));
      const status = await statusOf(evict(s, 'a', eviction('a', { preconditions: { uid: 'someone-else' } })));
      assert.deepEqual(
        [status.code, status.message],
        [409, 'Operation cannot be fulfilled on Pod "a": the UID in the precondition (someone-else) does not match the UID in record (uid-a). The object might have been deleted and then recreated'],
      );
      assert.deepEqual(s.podStatusWrites, []);
    });

    it('an unready pod that changed before the condition write is not deleted (429, come back)', async () => {
      const s = new StatusWritingStore();
      s.addPod(pod('sick', { ready: false }));
      s.addPdb(pdb('web', { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 }));
      s.touchPod('sick', () => {});
      const stale = s.pods.get('sick')!.metadata.resourceVersion;
      // The pod turns Ready after evictPod read it.
      let raced = false;
      const original = s.getPod.bind(s);
      s.getPod = async (ns, name) => {
        const p = await original(ns, name);
        if (!raced) {
          raced = true;
          s.touchPod('sick', (x) => (x.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }));
        }
        return p;
      };
      const status = await statusOf(evict(s, 'sick'));
      assert.equal(status.code, 429);
      assert.ok(s.pods.has('sick'));
      assert.notEqual(s.pods.get('sick')!.metadata.resourceVersion, stale);
      assert.deepEqual(s.podStatusWrites, []);
    });

    it('a dry run writes no condition', async () => {
      const s = new StatusWritingStore();
      s.addPod(pod('a'));
      await evict(s, 'a', eviction('a'), true);
      assert.deepEqual(s.podStatusWrites, []);
      assert.deepEqual(s.deletes, [{ name: 'a', opts: { dryRun: true } }]);
    });
  });
});
