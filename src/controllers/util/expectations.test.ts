import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { ControllerExpectations, EXPECTATIONS_TIMEOUT_MS, UIDTrackingControllerExpectations } from './expectations.js';

describe('ControllerExpectations', () => {
  it('blocks a key until every expected creation and deletion was observed', () => {
    const e = new ControllerExpectations(new FakeClock());
    assert.equal(e.satisfied('ns/a'), true, 'a key never recorded (e.g. after a restart) is satisfied');
    e.set('ns/a', 2, 1);
    e.creationObserved('ns/a');
    e.deletionObserved('ns/a');
    assert.equal(e.satisfied('ns/a'), false);
    assert.deepEqual(e.get('ns/a'), { adds: 1, dels: 0 });
    e.creationObserved('ns/a');
    assert.equal(e.satisfied('ns/a'), true);
    assert.equal(e.satisfied('ns/b'), true, 'keys are independent');
  });

  it('stops blocking once the record is older than the timeout, in case an event was lost', () => {
    const clock = new FakeClock();
    const e = new ControllerExpectations(clock);
    e.expectCreations('ns/a', 3);
    clock.advance(EXPECTATIONS_TIMEOUT_MS);
    assert.equal(e.satisfied('ns/a'), false, 'exactly at the timeout it still blocks');
    clock.advance(1);
    assert.equal(e.satisfied('ns/a'), true);
  });

  it('forgets a deleted key', () => {
    const e = new ControllerExpectations(new FakeClock());
    e.expectDeletions('ns/a', 1);
    e.delete('ns/a');
    assert.equal(e.satisfied('ns/a'), true);
    assert.equal(e.get('ns/a'), undefined);
  });
});

describe('UIDTrackingControllerExpectations', () => {
  it('counts a deletion once per expected pod, ignoring repeats and pods it did not expect to go', () => {
    const e = new UIDTrackingControllerExpectations(new FakeClock());
    e.expectDeletions('ns/rs', ['ns/p1', 'ns/p2']);
    e.deletionObserved('ns/rs', 'ns/p1');
    e.deletionObserved('ns/rs', 'ns/p1'); // deletionTimestamp first, then the delete event
    e.deletionObserved('ns/rs', 'ns/other');
    assert.deepEqual(e.get('ns/rs'), { adds: 0, dels: 1 });
    assert.equal(e.satisfied('ns/rs'), false);
    e.deletionObserved('ns/rs', 'ns/p2');
    assert.equal(e.satisfied('ns/rs'), true);
  });

  it('new creation expectations replace the pods expected to go', () => {
    const e = new UIDTrackingControllerExpectations(new FakeClock());
    e.expectDeletions('ns/rs', ['ns/p1']);
    e.expectCreations('ns/rs', 1);
    e.deletionObserved('ns/rs', 'ns/p1');
    assert.deepEqual(e.get('ns/rs'), { adds: 1, dels: 0 });
  });
});
