/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it, so that of
 * several `skiff server`s on one datastore exactly one runs the controllers and the scheduler.
 *
 * - A candidate tries every retryPeriod: it takes the Lease when it is absent, released (no holder) or expired
 *   (spec.renewTime + spec.leaseDurationSeconds is past); taking it from another holder increments
 *   leaseTransitions. Writes carry the resourceVersion read, so of two candidates racing for an expired Lease one
 *   gets 409 Conflict and stays a candidate.
 * - The leader renews every retryPeriod. If no renewal has succeeded for renewDeadline (a timer, so a hung request
 *   cannot postpone it), or the Lease shows another holder, it steps down: onStoppedLeading, then candidacy again.
 *   renewDeadline < leaseDuration leaves the old leader time to stop acting before anyone may take over.
 * - stop() releases the Lease (empty holder, as client-go's ReleaseOnCancel) so a successor need not wait for expiry.
 *
 * Expiry is judged from the Lease's renewTime against this candidate's clock (servers of one cluster are expected to
 * have synchronised clocks); client-go instead times how long it has watched the record unchanged, which tolerates
 * skew but makes every new candidate wait a full lease duration.
 */
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists, isConflict, isNotFound } from '../api/status.js';
import { rfc3339Micro } from '../api/time.js';
import { Leases } from './resources.js';
import { realClock, type Client, type Clock } from './types.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('leader-election');

export interface LeaderElectorOptions {
  client: Client;
  /** Namespace of the Lease (kube-controller-manager and kube-scheduler use kube-system). */
  namespace?: string;
  /** Lease name, e.g. `kube-controller-manager`. */
  name: string;
  /** This candidate's unique identity, e.g. `<hostname>_<uuid>`. */
  identity: string;
  /** How long a Lease is valid after its last renewal (client-go default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  /** Release the Lease on stop() (default true). */
  releaseOnCancel?: boolean;
  clock?: Clock;
  /** Called when this candidate becomes leader. Errors are logged, not thrown. */
  onStartedLeading(): void | Promise<void>;
  /** Called when this candidate stops being leader (lost the Lease, or stop()). */
  onStoppedLeading(): void | Promise<void>;
  /** Called when the observed holder changes (including to this candidate). */
  onNewLeader?(identity: string): void;
  log?: (line: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export class LeaderElector {
  private readonly client: Client;
  private readonly namespace: string;
  private readonly name: string;
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly releaseOnCancel: boolean;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private running = false;
  private leading = false;
  private attempting: Promise<void> | undefined;
  private loopTimer: { cancel(): void } | undefined;
  private deadlineTimer: { cancel(): void } | undefined;
  private lastLease: Lease | undefined;
  private observedLeader = '';
  private lastError = '';

  constructor(private readonly opts: LeaderElectorOptions) {
    this.client = opts.client;
    this.namespace = opts.namespace ?? 'kube-system';
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.releaseOnCancel = opts.releaseOnCancel ?? true;
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? ((l) => log.warn(l));
    if (!this.identity) throw new Error('LeaderElector: identity is required');
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new Error(`LeaderElector: leaseDuration (${this.leaseDurationMs} ms) must be greater than renewDeadline (${this.renewDeadlineMs} ms)`);
    if (this.renewDeadlineMs <= this.retryPeriodMs) throw new Error(`LeaderElector: renewDeadline (${this.renewDeadlineMs} ms) must be greater than retryPeriod (${this.retryPeriodMs} ms)`);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder of the Lease as last observed ('' when none). */
  getLeader(): string {
    return this.observedLeader;
  }

  /** Starts candidacy; the first attempt is made at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  /** Ends candidacy; a leader steps down (onStoppedLeading) and, with releaseOnCancel, releases the Lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.loopTimer?.cancel();
    this.deadlineTimer?.cancel();
    await this.attempting;
    const wasLeading = this.leading;
    this.leading = false;
    // Release even when not (yet) leading: an attempt in flight at stop() may have taken the Lease.
    if (this.releaseOnCancel) await this.release();
    if (wasLeading) await this.callback('onStoppedLeading', () => this.opts.onStoppedLeading());
  }

  private tick(): void {
    if (!this.running) return;
    this.attempting = this.attempt().finally(() => {
      this.attempting = undefined;
      if (this.running) this.loopTimer = this.clock.setTimeout(() => this.tick(), this.retryPeriodMs);
    });
  }

  private async attempt(): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.tryAcquireOrRenew();
      this.lastError = '';
    } catch (err) {
      ok = false;
      const msg = (err as Error).message;
      if (msg !== this.lastError) {
        this.lastError = msg;
        this.log(`leader election ${this.namespace}/${this.name}: ${this.leading ? 'renew' : 'acquire'} failed: ${msg}`);
      }
    }
    if (!this.running) return;
    if (ok) {
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        void this.callback('onStartedLeading', () => this.opts.onStartedLeading());
      }
    } else if (this.leading && this.observedLeader !== this.identity && this.observedLeader !== '') {
      // Someone else holds the Lease now: whatever our deadline says, we are no longer leader.
      await this.stepDown(`the lease is held by ${this.observedLeader}`);
    }
  }

  /** Steps down if no renewal succeeds within renewDeadline from now. */
  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    this.deadlineTimer = this.clock.setTimeout(() => {
      if (this.leading && this.running) void this.stepDown(`no renewal within ${this.renewDeadlineMs} ms`);
    }, this.renewDeadlineMs);
  }

  private async stepDown(why: string): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.deadlineTimer?.cancel();
    this.log(`leader election ${this.namespace}/${this.name}: ${this.identity} lost leadership: ${why}`);
    await this.callback('onStoppedLeading', () => this.opts.onStoppedLeading());
  }

  /** One round: true when this candidate holds a freshly renewed Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const leaseSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let current: Lease;
    try {
      current = await this.client.get<Lease>(Leases, this.namespace, this.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const created = await this.client.create<Lease>(Leases, this.namespace, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name, namespace: this.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: leaseSeconds, acquireTime: rfc3339Micro(now), renewTime: rfc3339Micro(now), leaseTransitions: 0 },
        });
        this.observe(created);
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return false;
        throw createErr;
      }
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && !this.expired(spec, now)) return false;
    const mine = holder === this.identity;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: rfc3339Micro(now),
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : rfc3339Micro(now),
        // As client-go: every acquisition by a new holder (also of a released Lease) counts as a transition.
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      this.observe(await this.client.update<Lease>(Leases, this.namespace, next));
      return true;
    } catch (err) {
      // Another candidate wrote first (or the leader renewed): not ours this round.
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private expired(spec: LeaseSpec, now: Date): boolean {
    if (!spec.renewTime) return true;
    const renewed = Date.parse(spec.renewTime);
    if (Number.isNaN(renewed)) return true;
    return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
  }

  private observe(lease: Lease): void {
    this.lastLease = lease;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.observedLeader) {
      this.observedLeader = holder;
      if (holder) this.opts.onNewLeader?.(holder);
    }
  }

  /** Gives the Lease up so a successor need not wait for it to expire (client-go's release: empty holder, 1 s). */
  private async release(): Promise<void> {
    const lease = this.lastLease;
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const now = rfc3339Micro(this.clock.now());
    try {
      const released = await this.client.update<Lease>(Leases, this.namespace, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      this.observe(released);
    } catch (err) {
      this.log(`leader election ${this.namespace}/${this.name}: release failed (the lease will expire instead): ${(err as Error).message}`);
    }
  }

  private async callback(name: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log(`leader election ${this.namespace}/${this.name}: ${name} failed: ${(err as Error).message}`);
    }
  }
}
