/**
 * Outcomes of one execution, and the key that says whether two failures are "the same".
 */
import type { InvariantLevel } from './harness.js';

export type OutcomeKind = 'ok' | 'invariant' | 'deadlock' | 'kernel_bug' | 'kernel_hang' | 'model_error' | 'step_limit';

export const OUTCOME_KINDS: readonly OutcomeKind[] = ['ok', 'invariant', 'deadlock', 'kernel_bug', 'kernel_hang', 'model_error', 'step_limit'];

/** A thread stuck in a deadlock: where it waits and what it holds. */
export interface StuckThread {
  readonly tid: number;
  readonly name: string;
  /** Label of the yield it is parked at, e.g. `mutex_lock(iommu.lock)`. */
  readonly at: string;
  /** Lock it waits for (acquire points), null for `wait` points. */
  readonly waitsFor: string | null;
  readonly holds: readonly string[];
}

export type Outcome =
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'invariant';
      readonly invariant: string;
      readonly level: InvariantLevel;
      readonly message: string;
      /** Thread whose scheduling step preceded the violation. */
      readonly thread: string | null;
    }
  | { readonly kind: 'deadlock'; readonly message: string; readonly threads: readonly StuckThread[] }
  /** BUG_ON: a thrown error named `KernelBug`. */
  | { readonly kind: 'kernel_bug'; readonly message: string; readonly thread: string }
  /** A path that would sleep forever on user space: a thrown error named `KernelHang`. */
  | { readonly kind: 'kernel_hang'; readonly message: string; readonly thread: string }
  | { readonly kind: 'model_error'; readonly message: string; readonly thread: string | null }
  | { readonly kind: 'step_limit'; readonly message: string };

export const OK: Outcome = Object.freeze({ kind: 'ok' });

/**
 * Two failing executions fail "the same way" when their keys are equal: the invariant name for
 * invariant violations, the kind alone otherwise (messages carry numbers that differ between
 * schedules of the same bug).
 */
export function failureKey(o: Outcome): string {
  return o.kind === 'invariant' ? `invariant:${o.invariant}` : o.kind;
}

export function isFailure(o: Outcome): boolean {
  return o.kind !== 'ok';
}

/** One line, for reports and progress output. */
export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return 'ok';
    case 'invariant':
      return `invariant ${o.invariant} violated (${o.level}${o.thread === null ? '' : `, after a step of ${o.thread}`}): ${o.message}`;
    case 'deadlock':
    case 'step_limit':
      return `${o.kind}: ${o.message}`;
    case 'kernel_bug':
    case 'kernel_hang':
    case 'model_error':
      return `${o.kind}${o.thread === null ? '' : ` on ${o.thread}`}: ${o.message}`;
  }
}
