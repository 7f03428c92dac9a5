import { lowerBound } from './key-range.js';

/** Largest block; a full block splits in two. Small enough that inserting into one is a short memmove. */
const BLOCK = 512;

/**
 * A sorted set of strings kept as a list of sorted blocks, so an insert moves at most one block's worth of
 * elements instead of shifting one big array (which made memory:// creates O(number of keys)).
 */
export class SortedKeys {
  private blocks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds key, which must not be present. */
  insert(key: string): void {
    this.count++;
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      return;
    }
    const b = this.blockFor(key);
    const block = this.blocks[b];
    block.splice(lowerBound(block, key), 0, key);
    if (block.length > BLOCK) this.blocks.splice(b + 1, 0, block.splice(BLOCK >> 1));
  }

  /** Calls visit for every key >= from in ascending order until visit returns false. */
  scan(from: string, visit: (key: string) => boolean): void {
    if (this.blocks.length === 0) return;
    let b = this.blockFor(from);
    let i = lowerBound(this.blocks[b], from);
    for (; b < this.blocks.length; b++, i = 0) {
      const block = this.blocks[b];
      for (; i < block.length; i++) if (!visit(block[i])) return;
    }
  }

  /** Keeps only the keys for which keep returns true. O(size). */
  retain(keep: (key: string) => boolean): void {
    const kept: string[][] = [];
    let current: string[] = [];
    for (const block of this.blocks) {
      for (const key of block) {
        if (!keep(key)) continue;
        current.push(key);
        if (current.length === BLOCK >> 1) {
          kept.push(current);
          current = [];
        }
      }
    }
    if (current.length > 0) kept.push(current);
    this.blocks = kept;
    this.count = kept.reduce((n, block) => n + block.length, 0);
  }

  /** The first block whose last key is >= key, or the last block. */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = this.blocks[mid];
      if (block[block.length - 1] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
