/**
 * ClusterRole aggregation (pkg/controller/clusterroleaggregation): a ClusterRole with an aggregationRule gets, as its
 * rules, the union of the rules of every other ClusterRole its selectors match, in name order, without duplicates.
 * Level-based: any ClusterRole change schedules one pass over all aggregated roles; a role already right is not
 * written, so the pass its own update triggers ends there.
 */
import type { ClusterRole, PolicyRule } from 'kubernetes-types/rbac/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { isConflict, isNotFound } from '../../../api/status.js';
import { labelSelectorFromObject, matches } from '../../../api/labels.js';
import { deepEqual } from '../../../api/validation.js';
import { createLogger } from '../../../log/logger.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { ResourceOps } from '../../resource-ops.js';
import { LOOPBACK_USER } from '../user-info.js';
import type { RbacIndex } from './rbac-index.js';

const log = createLogger('clusterrole-aggregation');

/** The rules an aggregated role should have, given every ClusterRole (pure). */
export function computeAggregatedRules(role: ClusterRole, all: Iterable<ClusterRole>): PolicyRule[] {
  const sorted = [...all].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const rules: PolicyRule[] = [];
  for (const sel of role.aggregationRule?.clusterRoleSelectors ?? []) {
    let selector;
    try {
      selector = labelSelectorFromObject(sel);
    } catch {
      continue;
    }
    for (const other of sorted) {
      if (other.metadata?.name === role.metadata?.name) continue;
      if (!matches(selector, other.metadata?.labels)) continue;
      for (const rule of other.rules ?? []) if (!rules.some((r) => deepEqual(r, rule))) rules.push(rule);
    }
  }
  return rules;
}

export class ClusterRoleAggregator {
  private scheduled = false;
  private running: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly index: RbacIndex,
    private readonly ops: ResourceOps,
    private readonly def: ResourceDefinition,
  ) {}

  start(): void {
    this.unsubscribe = this.index.onChange((kind) => {
      if (kind === 'ClusterRole') this.schedule();
    });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  /** One pass now (tests and the start-up hook await it). */
  async syncAll(): Promise<void> {
    for (const role of [...this.index.allClusterRoles()]) {
      if (!role.aggregationRule || this.stopped) continue;
      const want = computeAggregatedRules(role, this.index.allClusterRoles());
      if (deepEqual(role.rules ?? [], want)) continue;
      const name = role.metadata?.name ?? '';
      try {
        await this.ops.update(
          this.def,
          '',
          name,
          (current: KubeObject) => {
            const next = structuredClone(current) as ClusterRole;
            next.rules = computeAggregatedRules(next, this.index.allClusterRoles());
            return next as KubeObject;
          },
          { dryRun: false, user: LOOPBACK_USER },
        );
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) continue;
        log.error('cannot write an aggregated ClusterRole', { name, err });
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.syncAll().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    });
  }
}
