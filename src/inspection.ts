import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';
import { MintFailure } from '../machines/mint-failure.js';
import { callSafely } from './listeners.js';
import { readThrown, summaryOf } from '../machines/thrown.js';
import type { FailureSummary } from '../machines/credential.types.js';
import { Secret } from '../machines/secret.js';

/** What `createCredentialProvider({ inspect })` accepts: an observer or a function. */
export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

const REDACTED = '<REDACTED>';
/** Where XState and this library put a thrown value: events' and snapshots' `error`, `cause`. */
const THROWN_KEYS = new Set(['error', 'cause']);

/**
 * Wraps an inspection observer so that nothing it is handed can carry the secret.
 *
 * Redaction goes by the shape of a value, not by the type of the inspection event, so it holds
 * for every event type XState has (`@xstate.actor`, `.event`, `.snapshot`, `.microstep`,
 * `.transition`, `.action`) and any it adds later. Every value is walked:
 * - a {@link Secret} becomes `<REDACTED>`;
 * - an error (or anything thrown that is not plain data) becomes `{ name, message, code }`,
 *   through a `MintFailure` to the mint's own error: nothing else of it passes (an HTTP client's
 *   error holds the request: its `Authorization` header, a `client_secret=` body);
 * - a member named `error` or `cause` is described as an error, whatever was thrown;
 * - plain objects and arrays are copied with their members redacted;
 * - an actor reference becomes a view whose `getSnapshot()` is redacted too (inspectors read
 *   `id`, `sessionId`, `_parent`, `logic` and `getSnapshot()` from it);
 * - anything else (functions, the machine definition, its state nodes and transitions, sets of
 *   tags) passes as is: it is the static definition, and inspectors compare it by identity.
 *
 * A throwing inspector is ignored, and one that returns a rejected promise is caught: XState calls
 * inspectors inside its transitions, and an inspector must not fail the provider.
 *
 * @example
 * ```ts
 * createActor(machine, { inspect: redactedInspection(inspector.inspect) });
 * ```
 */
export function redactedInspection(inspect: InspectionObserver): Observer<InspectionEvent> {
  const next = typeof inspect === 'function' ? inspect : inspect.next?.bind(inspect);
  const views = new WeakMap<object, object>();
  return {
    next: (event) => {
      if (next !== undefined) callSafely(() => next(redact(event, views) as InspectionEvent));
    },
    ...(typeof inspect === 'function'
      ? {}
      : {
          error: (error: unknown) => inspect.error && callSafely(() => inspect.error!(describeError(error))),
          complete: () => inspect.complete && callSafely(() => inspect.complete!()),
        }),
  };
}

/**
 * `value` with every secret and error in it replaced, as described at {@link redactedInspection}.
 * `views` keeps one view per actor reference, so an inspector sees the same object each time.
 *
 * @example
 * ```ts
 * redact({ error: axiosError, token }, new WeakMap()); // { error: { name, message, code }, token: { secret: '<REDACTED>', ... } }
 * ```
 */
export function redact(value: unknown, views: WeakMap<object, object>, seen = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Secret) return REDACTED;
  if (value instanceof Error) return describeError(value);
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(redact(item, views, seen));
    return copy;
  }
  if (isActorRef(value)) return actorView(value, views);
  if (isTransitionDefinition(value)) return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    // What was thrown is described, whatever it is: a rejected plain object can hold a request too.
    copy[key] = THROWN_KEYS.has(key) && member !== undefined ? describeError(member) : redact(member, views, seen);
  }
  return copy;
}

/** A transition of the machine definition (as `@xstate.microstep` lists them): static, and compared by identity. */
function isTransitionDefinition(value: object): boolean {
  const { eventType, source } = value as { eventType?: unknown; source?: { machine?: unknown } };
  return typeof eventType === 'string' && typeof source === 'object' && source !== null && source.machine !== undefined;
}

function isActorRef(value: object): value is AnyActorRef {
  const candidate = value as Partial<AnyActorRef>;
  return typeof candidate.sessionId === 'string' && typeof candidate.getSnapshot === 'function' && typeof candidate.send === 'function';
}

/** A view of an actor for an inspector: its snapshot redacted, its parent a view too, the rest as is. */
function actorView(actor: AnyActorRef, views: WeakMap<object, object>): object {
  let view = views.get(actor);
  if (view === undefined) {
    view = new Proxy(actor, {
      get(target, property) {
        if (property === 'getSnapshot') return () => redact(target.getSnapshot(), views);
        const member: unknown = Reflect.get(target, property, target);
        if (property === '_parent') return redact(member, views);
        return typeof member === 'function' ? member.bind(target) : member;
      },
    });
    views.set(actor, view);
  }
  return view;
}

/**
 * An error as plain, secret-free data: name, message and code, through `MintFailure` to its
 * cause. A thrown value that is not an `Error` is described by its type only.
 *
 * @example
 * ```ts
 * describeError(new CredentialError('STOPPED', 'stopped')); // { name: 'CredentialError', message: 'stopped', code: 'STOPPED' }
 * ```
 */
export function describeError(error: unknown): FailureSummary {
  const { name, message, code } = isMintFailure(error) ? error.summary : summaryOf(readThrown(error));
  return code === undefined ? { name, message } : { name, message, code };
}

function isMintFailure(error: unknown): error is MintFailure {
  try {
    return error instanceof MintFailure;
  } catch {
    return false; // a Proxy whose getPrototypeOf throws
  }
}
