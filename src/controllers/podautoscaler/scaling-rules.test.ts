/** Stabilization windows, behavior policies and min/max, as upstream's horizontal_test.go behavior cases describe them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  defaultedBehavior,
  limitWithBehavior,
  limitWithoutBehavior,
  scaleDownLimit,
  scaleUpLimit,
  stabilizeWithBehavior,
  stabilizeWithoutBehavior,
  type BehaviorArgs,
} from './scaling-rules.js';

const NOW = 1_000_000_000;
const s = (sec: number) => NOW - sec * 1000;

describe('defaults', () => {
  it('fills upstream’s defaults and keeps what is set', () => {
    const b = defaultedBehavior({ scaleDown: { stabilizationWindowSeconds: 5 } });
    assert.deepEqual(b.scaleUp, { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] });
    assert.deepEqual(b.scaleDown, { stabilizationWindowSeconds: 5, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] });
    assert.equal(defaultedBehavior({}).scaleDown.stabilizationWindowSeconds, 300);
  });
});

describe('policies', () => {
  const up = defaultedBehavior({}).scaleUp;
  it('default scale up: 4 pods or 100 %, whichever is more', () => {
    assert.equal(scaleUpLimit(2, [], up, NOW), 6);
    assert.equal(scaleUpLimit(10, [], up, NOW), 20);
  });
  it('scale events inside the period use up the allowance', () => {
    const rules = { selectPolicy: 'Max' as const, policies: [{ type: 'Pods' as const, value: 1, periodSeconds: 60 }] };
    assert.equal(scaleUpLimit(3, [{ change: 1, at: s(30) }], rules, NOW), 3);
    assert.equal(scaleUpLimit(3, [{ change: 1, at: s(90) }], rules, NOW), 4);
  });
  it('selectPolicy Min takes the smaller change; Disabled none', () => {
    const rules = { selectPolicy: 'Min' as const, policies: [{ type: 'Percent' as const, value: 50, periodSeconds: 60 }, { type: 'Pods' as const, value: 1, periodSeconds: 60 }] };
    assert.equal(scaleDownLimit(10, [], rules, NOW), 9);
    assert.equal(scaleDownLimit(10, [], { ...rules, selectPolicy: 'Max' }, NOW), 5);
    assert.equal(scaleUpLimit(10, [], { ...rules, selectPolicy: 'Min' }, NOW), 11);
    assert.equal(scaleDownLimit(10, [], { ...rules, selectPolicy: 'Disabled' }, NOW), 10);
    assert.equal(scaleUpLimit(10, [], { ...rules, selectPolicy: 'Disabled' }, NOW), 10);
  });
});

const args = (over: Partial<BehaviorArgs>): BehaviorArgs => ({
  current: 5,
  desired: 5,
  minReplicas: 1,
  maxReplicas: 10,
  behavior: defaultedBehavior({}),
  recommendations: [],
  scaleUpEvents: [],
  scaleDownEvents: [],
  now: NOW,
  ...over,
});

describe('stabilization', () => {
  it('scale down waits for the highest recommendation of the window', () => {
    const r = stabilizeWithBehavior(args({ desired: 2, recommendations: [{ replicas: 5, at: s(100) }, { replicas: 3, at: s(10) }] }));
    assert.deepEqual(r, { replicas: 5, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' });
    const later = stabilizeWithBehavior(args({ desired: 2, recommendations: [{ replicas: 5, at: s(400) }, { replicas: 3, at: s(10) }] }));
    assert.equal(later.replicas, 3);
  });
  it('a scale-up window caps at the lowest recent recommendation', () => {
    const behavior = defaultedBehavior({ scaleUp: { stabilizationWindowSeconds: 60 } });
    const r = stabilizeWithBehavior(args({ current: 3, desired: 6, behavior, recommendations: [{ replicas: 4, at: s(30) }] }));
    assert.deepEqual(r, { replicas: 4, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' });
  });
  it('without behavior: the highest recommendation of the 5 min window', () => {
    assert.equal(stabilizeWithoutBehavior(2, [{ replicas: 4, at: s(200) }], NOW), 4);
    assert.equal(stabilizeWithoutBehavior(2, [{ replicas: 4, at: s(301) }], NOW), 2);
    assert.equal(stabilizeWithoutBehavior(7, [{ replicas: 4, at: s(20) }], NOW), 7);
  });
});

describe('limits', () => {
  it('scale up limited by rate, then by maxReplicas', () => {
    assert.deepEqual(limitWithBehavior(args({ current: 1, desired: 9 })), { replicas: 5, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
    assert.deepEqual(limitWithBehavior(args({ current: 5, desired: 12 })), { replicas: 10, reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' });
  });
  it('scale down limited by rate, then by minReplicas', () => {
    const behavior = defaultedBehavior({ scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } });
    assert.deepEqual(limitWithBehavior(args({ behavior, current: 5, desired: 1 })), { replicas: 4, reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' });
    assert.deepEqual(limitWithBehavior(args({ current: 5, desired: 1, minReplicas: 3 })), { replicas: 3, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' });
    assert.deepEqual(limitWithBehavior(args({ current: 5, desired: 4 })), { replicas: 4, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' });
  });
  it('without behavior: at most double (or 4), within min/max', () => {
    assert.deepEqual(limitWithoutBehavior(1, 10, 1, 20), { replicas: 4, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
    assert.equal(limitWithoutBehavior(10, 30, 1, 15).replicas, 15);
    assert.equal(limitWithoutBehavior(10, 30, 1, 15).reason, 'TooManyReplicas');
    assert.equal(limitWithoutBehavior(3, 0, 2, 15).reason, 'TooFewReplicas');
    assert.equal(limitWithoutBehavior(3, 0, 2, 15).replicas, 2);
  });
});
