import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './testing/fake-clock.js';
import { createWorkQueue } from './workqueue.js';

type Step =
  | ['add', string]
  | ['addAfter', string, number]
  | ['addRateLimited', string]
  | ['forget', string]
  | ['advance', number]
  | ['get', string | undefined]
  | ['done', string]
  | ['shutDown']
  | ['length', number];

/** Runs steps against a queue on a FakeClock; `get` expects a key to be ready at once (or undefined after shutdown). */
async function run(steps: Step[]): Promise<void> {
  const clock = new FakeClock(0);
  const q = createWorkQueue({ clock });
  for (const [i, step] of steps.entries()) {
    const where = `step ${i} ${JSON.stringify(step)}`;
    switch (step[0]) {
      case 'add': q.add(step[1]); break;
      case 'addAfter': q.addAfter(step[1], step[2]); break;
      case 'addRateLimited': q.addRateLimited(step[1]); break;
      case 'forget': q.forget(step[1]); break;
      case 'advance': clock.advance(step[1]); break;
      case 'done': q.done(step[1]); break;
      case 'shutDown': q.shutDown(); break;
      case 'length': assert.equal(q.length, step[1], where); break;
      case 'get': {
        const got = await Promise.race([q.get(), new Promise((r) => setImmediate(() => r('<blocked>')))]);
        assert.equal(got, step[1], where);
        break;
      }
    }
  }
}

describe('workqueue', () => {
  const cases: { name: string; steps: Step[] }[] = [
    { name: 'keys come out in order, each once', steps: [['add', 'a'], ['add', 'b'], ['add', 'a'], ['length', 2], ['get', 'a'], ['get', 'b'], ['length', 0]] },
    {
      name: 'a key re-added while processing waits for done, then is queued once',
      steps: [['add', 'a'], ['get', 'a'], ['add', 'a'], ['add', 'a'], ['length', 0], ['done', 'a'], ['length', 1], ['get', 'a'], ['done', 'a'], ['length', 0]],
    },
    { name: 'done without a re-add queues nothing', steps: [['add', 'a'], ['get', 'a'], ['done', 'a'], ['length', 0]] },
    {
      name: 'addAfter fires at its time, and only the earliest pending time counts',
      steps: [['addAfter', 'a', 100], ['addAfter', 'a', 50], ['addAfter', 'a', 70], ['advance', 49], ['length', 0], ['advance', 1], ['length', 1], ['get', 'a'], ['done', 'a'], ['advance', 100], ['length', 0]],
    },
    { name: 'addAfter with no delay adds at once', steps: [['addAfter', 'a', 0], ['length', 1]] },
    {
      name: 'rate-limited retries back off 5, 10, 20 ms; forget resets',
      steps: [
        ['addRateLimited', 'a'], ['advance', 4], ['length', 0], ['advance', 1], ['get', 'a'], ['done', 'a'],
        ['addRateLimited', 'a'], ['advance', 9], ['length', 0], ['advance', 1], ['get', 'a'], ['done', 'a'],
        ['addRateLimited', 'a'], ['advance', 19], ['length', 0], ['advance', 1], ['get', 'a'], ['done', 'a'],
        ['forget', 'a'], ['addRateLimited', 'a'], ['advance', 5], ['get', 'a'],
      ],
    },
    {
      name: 'shutDown drains what is queued, then get gives undefined; later adds are ignored',
      steps: [['add', 'a'], ['add', 'b'], ['addAfter', 'c', 10], ['shutDown'], ['add', 'd'], ['advance', 20], ['get', 'a'], ['get', 'b'], ['get', undefined], ['length', 0]],
    },
  ];
  for (const c of cases) it(c.name, () => run(c.steps));

  it('a key being processed is not handed to a second worker', async () => {
    const q = createWorkQueue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    let second: string | undefined | 'pending' = 'pending';
    void q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, 'pending');
    q.done(first!);
    await new Promise((r) => setImmediate(r));
    assert.equal(second, 'a');
  });

  it('shutDown releases workers blocked in get', async () => {
    const q = createWorkQueue();
    const waiting = [q.get(), q.get()];
    q.shutDown();
    assert.deepEqual(await Promise.all(waiting), [undefined, undefined]);
  });

  it('the backoff doubles per failure up to maxDelayMs', async () => {
    const clock = new FakeClock(0);
    const q = createWorkQueue({ clock, baseDelayMs: 5, maxDelayMs: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      q.addRateLimited('a');
      const d = clock.nextTimerIn()!;
      delays.push(d);
      clock.advance(d);
      q.done((await q.get())!);
    }
    assert.deepEqual(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    assert.equal(q.numRequeues('a'), 10);
  });

  it('many workers each see distinct keys and every key is processed', async () => {
    const q = createWorkQueue();
    const active = new Set<string>();
    const processed: string[] = [];
    const worker = async () => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        assert.ok(!active.has(k), `${k} handed to two workers`);
        active.add(k);
        await new Promise((r) => setImmediate(r));
        processed.push(k);
        active.delete(k);
        q.done(k);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) q.add(`k${i % 5}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    q.shutDown();
    await Promise.all(workers);
    assert.deepEqual([...new Set(processed)].sort(), ['k0', 'k1', 'k2', 'k3', 'k4']);
  });
});
