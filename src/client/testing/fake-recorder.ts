/** An EventRecorder that keeps what it is given, for tests that assert the Events a component emits. */
import type { KubeObject } from '../../api/object.js';
import type { EventRecorder } from '../types.js';

export interface RecordedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  object: KubeObject;
}

export class FakeRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];

  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ type, reason, message, object: obj });
  }

  /** `<type> <reason> <message>` per event, the form client-go's FakeRecorder produces, handy for assert.deepEqual. */
  lines(): string[] {
    return this.events.map((e) => `${e.type} ${e.reason} ${e.message}`);
  }

  clear(): void {
    this.events.length = 0;
  }
}
