/**
 * The result of every plugin call: `undefined` means success, anything else is a `Status` with a code and the
 * reasons a user reads in FailedScheduling events. Plugins never throw for expected outcomes; an exception is a
 * bug. Follows k8s.io/kube-scheduler/framework Status (codes, Message() joining reasons with ", ").
 */

export enum Code {
  Success = 0,
  /** An internal error (a bug or a transient failure); the pod is retried with backoff. */
  Error = 1,
  /** The pod does not fit now; preemption may help. */
  Unschedulable = 2,
  /** The pod does not fit and preemption cannot help on this node (e.g. a node selector mismatch). */
  UnschedulableAndUnresolvable = 3,
  /** Permit only: hold the pod until it is allowed, rejected or times out. */
  Wait = 4,
  /** PreFilter/PreScore only: the plugin has nothing to do for this pod; its Filter/Score is not called. */
  Skip = 5,
  /** The pod waits for something outside the scheduler (e.g. an external controller). */
  Pending = 6,
}

export const codeNames: Record<Code, string> = {
  [Code.Success]: 'Success',
  [Code.Error]: 'Error',
  [Code.Unschedulable]: 'Unschedulable',
  [Code.UnschedulableAndUnresolvable]: 'UnschedulableAndUnresolvable',
  [Code.Wait]: 'Wait',
  [Code.Skip]: 'Skip',
  [Code.Pending]: 'Pending',
};

export class Status {
  /** The plugin that produced this status, set by the framework runtime. */
  plugin = '';
  /** For Wait: how long Permit may hold the pod. */
  timeoutMs = 0;

  constructor(
    readonly code: Code,
    readonly reasons: readonly string[] = [],
    /** The underlying error for Error statuses, or the FitError carried by an Unschedulable scheduling result. */
    readonly error?: Error,
  ) {}

  static unschedulable(...reasons: string[]): Status {
    return new Status(Code.Unschedulable, reasons);
  }

  static unresolvable(...reasons: string[]): Status {
    return new Status(Code.UnschedulableAndUnresolvable, reasons);
  }

  static skip(): Status {
    return new Status(Code.Skip);
  }

  static wait(timeoutMs: number): Status {
    const s = new Status(Code.Wait);
    s.timeoutMs = timeoutMs;
    return s;
  }

  /** An Error status wrapping `err` (upstream AsStatus). */
  static error(err: Error | string): Status {
    const e = typeof err === 'string' ? new Error(err) : err;
    return new Status(Code.Error, [e.message], e);
  }

  /** A status of `code` whose message is the error's message (upstream NewStatus(code).WithError(err)). */
  static withError(code: Code, err: Error): Status {
    return new Status(code, [err.message], err);
  }

  withPlugin(name: string): this {
    this.plugin = name;
    return this;
  }

  /** The reasons joined by ", ", as upstream Status.Message(). */
  message(): string {
    return this.reasons.join(', ');
  }

  isSuccess(): boolean {
    return this.code === Code.Success;
  }

  /** Unschedulable, UnschedulableAndUnresolvable or Pending: the pod was turned down, not failed by an error. */
  isRejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable || this.code === Code.Pending;
  }

  /** The error form, for logs and for callers that branch on the FitError. */
  asError(): Error {
    return this.error ?? new Error(this.message());
  }

  toString(): string {
    return `${codeNames[this.code]}${this.plugin ? ` (${this.plugin})` : ''}: ${this.message()}`;
  }
}

/** What plugin methods return: undefined is success. */
export type Result = Status | undefined;

export function isSuccess(s: Result): s is undefined | (Status & { code: Code.Success }) {
  return s === undefined || s.code === Code.Success;
}

export function codeOf(s: Result): Code {
  return s === undefined ? Code.Success : s.code;
}
