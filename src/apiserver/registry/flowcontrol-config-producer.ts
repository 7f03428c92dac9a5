/**
 * kube-apiserver's priority-and-fairness-config-producer post-start hook: applies flowcontrol-bootstrap.ts once at
 * start (suggested objects included) and then every `intervalMs` (mandatory objects re-created, auto-updated specs put
 * back, Dangling conditions kept), writing as the API server itself.
 */
import { isAlreadyExists, isConflict, isNotFound } from '../../api/status.js';
import type { KubeObject } from '../../api/object.js';
import { deepEqual } from '../../api/validation.js';
import { everythingFilter } from '../filters.js';
import type { ResourceOps } from '../resource-ops.js';
import { createLogger } from '../../log/logger.js';
import { ensureFlowcontrolConfiguration, type FlowcontrolApi } from './flowcontrol-bootstrap.js';
import type { ResourceDefinition } from './types.js';

const log = createLogger('flowcontrol-config-producer');

export interface FlowcontrolConfigProducerOptions {
  ops: ResourceOps;
  flowschemas: ResourceDefinition;
  prioritylevelconfigurations: ResourceDefinition;
  /** Between passes after the first (default 5 s). */
  intervalMs?: number;
  now?: () => Date;
}

export class FlowcontrolConfigProducer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly api: FlowcontrolApi;
  private readonly now: () => Date;

  constructor(private readonly o: FlowcontrolConfigProducerOptions) {
    this.now = o.now ?? (() => new Date());
    const def = (kind: 'flowschemas' | 'prioritylevelconfigurations') => (kind === 'flowschemas' ? o.flowschemas : o.prioritylevelconfigurations);
    this.api = {
      get: async (kind, name) => {
        try {
          return (await o.ops.get(def(kind), '', name)).obj;
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      },
      list: async (kind) => (await o.ops.list(def(kind), '', { filter: everythingFilter })).items.map((c) => c.obj),
      create: async (kind, obj) => {
        try {
          await o.ops.create(def(kind), '', obj, { dryRun: false });
        } catch (err) {
          // Another API server of the cluster got there first.
          if (!isAlreadyExists(err)) throw err;
        }
      },
      updateSpec: async (kind, current, spec) => {
        await o.ops.update(def(kind), '', current.metadata.name!, (c: KubeObject) => ({ ...c, metadata: { ...c.metadata, resourceVersion: current.metadata.resourceVersion }, spec }), { dryRun: false });
      },
      updateStatus: async (kind, current, status) => {
        await o.ops.update(def(kind), '', current.metadata.name!, (c: KubeObject) => ({ ...c, metadata: { ...c.metadata, resourceVersion: current.metadata.resourceVersion }, status }), { dryRun: false, subresource: 'status' });
      },
    };
  }

  /** The first pass (suggested objects created), then the periodic ones. */
  async start(): Promise<void> {
    await this.pass(true);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.pass(false).finally(() => this.schedule());
    }, this.o.intervalMs ?? 5_000);
    this.timer.unref();
  }

  private async pass(initial: boolean): Promise<void> {
    try {
      await ensureFlowcontrolConfiguration(this.api, { initial, now: this.now(), specsEqual: deepEqual });
    } catch (err) {
      // A conflict means someone wrote in between: the next pass looks again.
      if (!isConflict(err)) log.error('ensuring the flowcontrol configuration failed', { err });
    }
  }
}
