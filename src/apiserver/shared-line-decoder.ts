/**
 * One JSON.parse per watch event for every reader in a process: the components inside `skiff server` (controllers,
 * scheduler, simulated nodes, the embedded agent) each watch pods, and each would otherwise parse the same event
 * line into an object of its own and keep it in its own informer cache. Lines are matched by their text, so only a
 * reader that was sent exactly that text gets the shared value: readers with other permissions, versions or
 * selectors get their own lines and values.
 *
 * The values are shared and must not be mutated, as informer objects must not be (client-go's rule). With
 * `freeze` (SKIFF_FREEZE_SHARED_OBJECTS=1, which the test runner sets) every value is deep-frozen, so a mutation
 * anywhere throws in the tests instead of corrupting another component's cache.
 */
import { deepFreeze } from '../api/deep-freeze.js';

/**
 * Lines kept at most. The server hands an event to all its in-process watchers within one turn of the event loop, so
 * the memory is also emptied at the end of each turn: a line (a slice of its whole delivered chunk, which it keeps
 * alive) is never held longer than the turn that delivered it.
 */
const DEFAULT_CAPACITY = 256;

export class SharedLineDecoder {
  /** Recent lines by length (a cheap first test; equal strings of equal length compare by content). */
  private readonly byLength = new Map<number, { line: string; value: unknown }[]>();
  private readonly ring: { line: string; value: unknown }[] = [];
  private next = 0;
  private readonly capacity: number;
  private readonly freeze: boolean;
  private clearScheduled = false;

  constructor(opts: { capacity?: number; freeze?: boolean } = {}) {
    this.capacity = opts.capacity ?? DEFAULT_CAPACITY;
    this.freeze = opts.freeze ?? process.env.SKIFF_FREEZE_SHARED_OBJECTS === '1';
  }

  /** The parsed value of line; throws as JSON.parse for text that is not JSON. */
  decode(line: string): unknown {
    const same = this.byLength.get(line.length);
    if (same !== undefined) {
      for (const entry of same) if (entry.line === line) return entry.value;
    }
    const value: unknown = JSON.parse(line);
    if (this.freeze && value !== null && typeof value === 'object') deepFreeze(value);
    this.remember(line, value, same);
    return value;
  }

  private remember(line: string, value: unknown, same: { line: string; value: unknown }[] | undefined): void {
    if (!this.clearScheduled) {
      this.clearScheduled = true;
      setImmediate(() => this.clear()).unref();
    }
    const entry = { line, value };
    const old = this.ring[this.next];
    if (old !== undefined) {
      const bucket = this.byLength.get(old.line.length)!;
      bucket.splice(bucket.indexOf(old), 1);
      if (bucket.length === 0) this.byLength.delete(old.line.length);
    }
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (same !== undefined && this.byLength.has(line.length)) same.push(entry);
    else this.byLength.set(line.length, [entry]);
  }

  private clear(): void {
    this.clearScheduled = false;
    this.byLength.clear();
    this.ring.length = 0;
    this.next = 0;
  }
}
