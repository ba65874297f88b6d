import type { InspectionEvent, Observer } from 'xstate';
import { MintFailure } from '../machines/mint-failure.js';

/** What `createCredentialProvider({ inspect })` accepts: an observer or a function. */
export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/**
 * Wraps an inspection observer so that nothing it is handed can carry the secret. Tokens are
 * already {@link Secret}s before XState sees them (they serialize as `<REDACTED>`); what is left is
 * a mint's error, which may hold the request that carried a client secret or a bearer header
 * (an HTTP client's error often does). Every error in an event or a child's snapshot is reduced to
 * its name, message and `code`. A throwing inspector is ignored, as a throwing reporter is.
 *
 * @example
 * ```ts
 * createActor(machine, { inspect: redactedInspection(inspector.inspect) });
 * ```
 */
export function redactedInspection(inspect: InspectionObserver): Observer<InspectionEvent> {
  const next = typeof inspect === 'function' ? inspect : inspect.next?.bind(inspect);
  return {
    next: (event) => {
      try {
        next?.(redact(event));
      } catch {
        // XState calls inspectors inside its transitions: a throwing one must not fail the actor.
      }
    },
    ...(typeof inspect === 'function' ? {} : { error: inspect.error?.bind(inspect), complete: inspect.complete?.bind(inspect) }),
  };
}

function redact(inspection: InspectionEvent): InspectionEvent {
  switch (inspection.type) {
    case '@xstate.event':
    case '@xstate.microstep':
    case '@xstate.transition':
      return { ...inspection, event: redactEvent(inspection.event) } as InspectionEvent;
    case '@xstate.snapshot': {
      const snapshot = inspection.snapshot as { error?: unknown };
      const redacted = 'error' in snapshot && snapshot.error !== undefined ? { ...snapshot, error: describeError(snapshot.error) } : snapshot;
      return { ...inspection, event: redactEvent(inspection.event), snapshot: redacted } as InspectionEvent;
    }
    default:
      return inspection;
  }
}

function redactEvent<T extends { type: string }>(event: T): T {
  if ('error' in event) return { ...event, error: describeError(event.error) };
  if (event.type === 'xstate.promise.reject' && 'data' in event) return { ...event, data: describeError(event.data) };
  return event;
}

/** An error as plain, secret-free data: name, message and code, through `MintFailure` to its cause. */
export function describeError(error: unknown): { name: string; message: string; code?: string } {
  const cause = error instanceof MintFailure ? error.cause : error;
  if (!(cause instanceof Error)) return { name: 'NonError', message: `a ${typeof cause} was thrown` };
  const code = (cause as { code?: unknown }).code;
  return { name: cause.name, message: cause.message, ...(typeof code === 'string' ? { code } : {}) };
}
