/**
 * Runs the admission chain for one write: mutating plugins, then (after the caller's validation) validating
 * plugins, then the finish functions plugins registered, once the caller knows whether the write committed.
 */
import type { AdmissionAttributes, AdmissionChain, AdmissionContext } from './types.js';
import { pluginApplies } from './types.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('admission');

export type AdmissionRequest = Omit<AdmissionAttributes, 'onFinish'>;

export class AdmissionRun {
  readonly attrs: AdmissionAttributes;
  private readonly finishers: ((committed: boolean) => void | Promise<void>)[] = [];

  constructor(private readonly chain: AdmissionChain, private readonly ctx: AdmissionContext, request: AdmissionRequest) {
    this.attrs = { ...request, onFinish: (fn) => this.finishers.push(fn) };
  }

  async mutate(): Promise<void> {
    for (const plugin of this.chain.mutating) {
      if (!pluginApplies(plugin, this.attrs)) continue;
      const r = plugin.admit(this.attrs, this.ctx);
      if (r) await r;
    }
  }

  async validate(): Promise<void> {
    for (const plugin of this.chain.validating) {
      if (!pluginApplies(plugin, this.attrs)) continue;
      const r = plugin.validate(this.attrs, this.ctx);
      if (r) await r;
    }
  }

  /** Runs the finish functions (committed is forced false for a dry run); never throws. */
  async finish(committed: boolean): Promise<void> {
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
