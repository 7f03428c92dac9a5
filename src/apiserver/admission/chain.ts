/**
 * Runs the admission chain for one write: mutating plugins, then (after the caller's validation) validating
 * plugins, then the finish functions plugins registered, once the caller knows whether the write committed.
 */
import type { AdmissionAttributes, AdmissionChain, AdmissionContext } from './types.js';
import { pluginApplies } from './types.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('admission');

const dropWarning = (): void => {};

/** One write's attributes as the caller gives them; `warn` defaults to dropping warnings (no response to carry them). */
export type AdmissionRequest = Omit<AdmissionAttributes, 'onFinish' | 'warn'> & { warn?: (text: string) => void };

export class AdmissionRun {
  readonly attrs: AdmissionAttributes;
  private readonly finishers: ((committed: boolean) => void | Promise<void>)[] = [];

  constructor(private readonly chain: AdmissionChain, private readonly ctx: AdmissionContext, request: AdmissionRequest) {
    // The request object becomes the attributes (no copy: one is made for every write).
    const attrs = request as AdmissionAttributes;
    attrs.warn ??= dropWarning;
    attrs.onFinish = (fn) => {
      this.finishers.push(fn);
    };
    this.attrs = attrs;
  }

  /**
   * Runs the mutating plugins. Synchronous (undefined) until a plugin answers with a promise: every write passes
   * here, and most plugins decide from memory, so the common path costs no promise at all.
   */
  mutate(): void | Promise<void> {
    return this.runMutating(0);
  }

  /** Runs the validating plugins, synchronously where they allow it (see mutate). */
  validate(): void | Promise<void> {
    return this.runValidating(0);
  }

  private runMutating(from: number): void | Promise<void> {
    const plugins = this.chain.mutating;
    for (let i = from; i < plugins.length; i++) {
      const plugin = plugins[i]!;
      if (!pluginApplies(plugin, this.attrs)) continue;
      const r = plugin.admit(this.attrs, this.ctx);
      if (r && typeof r.then === 'function') return r.then(() => this.runMutating(i + 1));
    }
    return undefined;
  }

  private runValidating(from: number): void | Promise<void> {
    const plugins = this.chain.validating;
    for (let i = from; i < plugins.length; i++) {
      const plugin = plugins[i]!;
      if (!pluginApplies(plugin, this.attrs)) continue;
      const r = plugin.validate(this.attrs, this.ctx);
      if (r && typeof r.then === 'function') return r.then(() => this.runValidating(i + 1));
    }
    return undefined;
  }

  /** Runs the finish functions (committed is forced false for a dry run); never throws. */
  finish(committed: boolean): void | Promise<void> {
    if (this.finishers.length === 0) return undefined;
    return this.finishAll(committed);
  }

  private async finishAll(committed: boolean): Promise<void> {
    const done = committed && !this.attrs.dryRun;
    for (const fn of this.finishers.splice(0)) {
      try {
        await fn(done);
      } catch (err) {
        // A finisher gives back what a plugin took; failing to do so is repaired later by the owner's repair loop.
        log.error('finishing admission failed', { operation: this.attrs.operation, resource: this.attrs.resource.plural, key: `${this.attrs.namespace}/${this.attrs.name}`, err });
      }
    }
  }
}

export class Admission {
  constructor(readonly chain: AdmissionChain, private readonly ctx: AdmissionContext) {}

  begin(request: AdmissionRequest): AdmissionRun {
    return new AdmissionRun(this.chain, this.ctx, request);
  }
}
