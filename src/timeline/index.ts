/**
 * A provider's life over time: record it from the provider's own snapshots and events, then draw
 * it as an SVG (token lifetimes, refresh attempts, the breaker as a band, requests served or
 * failed). No dependency; works in Node and browsers.
 *
 * @module credential-actor/timeline
 */
import { checkOptions } from '../check-options.js';
import type { BreakerState } from '../../machines/credential.types.js';
import type { AuthToken } from '../auth-token.js';
import { systemClock, type Clock } from '../clock.js';
import type { CredentialProvider, CurrentTokenOptions } from '../provider.js';

/** Everything a timeline shows, as plain data (epoch ms). */
export interface TimelineRecording {
  startedAt: number;
  endedAt: number;
  tokens: { issuedAt: number; expiresAt: number | null; refreshDueAt: number | null }[];
  attempts: { startedAt: number; endedAt: number | null; outcome: 'succeeded' | 'failed' | 'abandoned' | 'pending' }[];
  breaker: { at: number; state: BreakerState }[];
  requests: { at: number; ok: boolean }[];
}

/** A recorder attached to one provider. */
export interface TimelineRecorder {
  /** What has been recorded so far (live; `endedAt` is the latest clock reading). */
  readonly recording: TimelineRecording;
  /** `provider.currentToken()`, recording whether the request was served. */
  currentToken(options?: CurrentTokenOptions): Promise<AuthToken>;
  /** Records a request the app made itself (say, a whole HTTP call): when, and whether it succeeded. */
  recordRequest(at: number, ok: boolean): void;
  /** Stops recording and returns the recording. */
  stop(): TimelineRecording;
}

/**
 * Starts recording a provider's timeline. Read the clock you gave the provider (the default is the
 * system clock).
 *
 * @example
 * ```ts
 * const recorder = recordTimeline(provider, clock);
 * await recorder.currentToken(); // instead of provider.currentToken(), to record requests
 * writeFileSync('timeline.svg', renderTimeline(recorder.stop()));
 * ```
 */
export function recordTimeline(provider: CredentialProvider, clock: Clock = systemClock): TimelineRecorder {
  const first = provider.actor.getSnapshot();
  const recording: TimelineRecording = {
    startedAt: clock.now(),
    endedAt: clock.now(),
    tokens: [{ issuedAt: first.context.issuedAt, expiresAt: first.context.token.expiresAt, refreshDueAt: first.context.refreshDueAt }],
    attempts: [],
    breaker: [{ at: clock.now(), state: first.value.breaker }],
    requests: [],
  };
  let previous = first;
  const openAttempt = () => {
    const last = recording.attempts.at(-1);
    return last !== undefined && last.outcome === 'pending' ? last : undefined;
  };
  const subscription = provider.actor.subscribe((snapshot) => {
    const at = clock.now();
    recording.endedAt = at;
    const { context, value } = snapshot;
    if (context.token !== previous.context.token) {
      recording.tokens.push({ issuedAt: context.issuedAt, expiresAt: context.token.expiresAt, refreshDueAt: context.refreshDueAt });
    }
    if (value.breaker !== previous.value.breaker) recording.breaker.push({ at, state: value.breaker });
    if (value.flight === 'minting' && (previous.value.flight !== 'minting' || context.attempt !== previous.context.attempt)) {
      recording.attempts.push({ startedAt: context.attemptStartedAt ?? at, endedAt: null, outcome: 'pending' });
    }
    if (value.flight === 'idle' && previous.value.flight === 'minting') {
      // an outcome event arrives in a microtask; until then (or for good) it was abandoned
      const attempt = openAttempt();
      if (attempt !== undefined) Object.assign(attempt, { endedAt: at, outcome: 'abandoned' });
    }
    previous = snapshot;
  });
  const settle = (outcome: 'succeeded' | 'failed') => {
    const last = recording.attempts.at(-1);
    if (last !== undefined && (last.outcome === 'pending' || last.outcome === 'abandoned')) {
      Object.assign(last, { endedAt: last.endedAt ?? clock.now(), outcome });
    }
  };
  const offSucceeded = provider.actor.on('refresh.succeeded', () => settle('succeeded'));
  const offFailed = provider.actor.on('refresh.failed', () => settle('failed'));
  return {
    recording,
    currentToken(options) {
      const at = clock.now();
      const served = provider.currentToken(options);
      served.then(
        () => recording.requests.push({ at, ok: true }),
        () => recording.requests.push({ at, ok: false }),
      );
      return served;
    },
    recordRequest(at, ok) {
      recording.requests.push({ at, ok });
    },
    stop() {
      subscription.unsubscribe();
      offSucceeded.unsubscribe();
      offFailed.unsubscribe();
      recording.endedAt = Math.max(recording.endedAt, clock.now());
      recording.requests.sort((a, b) => a.at - b.at);
      return recording;
    },
  };
}

/** Options of {@link renderTimeline}. */
export interface TimelineOptions {
  /** Picture width in px (default 1100). */
  width?: number;
  /** Title above the picture. */
  title?: string;
}

const COLOURS = {
  token: '#4a90d9',
  tokenDue: '#1d4f91',
  succeeded: '#2e9e44',
  failed: '#d0021b',
  abandoned: '#9b9b9b',
  closed: '#cfe8d3',
  halfOpen: '#ffe08a',
  open: '#f6a5a5',
  grid: '#e6e6e6',
  text: '#222222',
  muted: '#666666',
} as const;

/**
 * Draws a recording as an SVG string: token lifetimes as bars (with their refresh instant), refresh
 * attempts and their outcomes, the breaker as a coloured band, and requests per time slot, served
 * above the axis and failed below.
 *
 * @example
 * ```ts
 * const svg = renderTimeline(recorder.stop(), { title: 'Issuer outage at 02:30' });
 * ```
 */
export function renderTimeline(recording: TimelineRecording, options: TimelineOptions = {}): string {
  checkOptions(options, { owner: 'renderTimeline', known: ['width', 'title'] });
  const width = options.width ?? 1100;
  const left = 130;
  const right = 30;
  const plot = width - left - right;
  const { startedAt, endedAt } = recording;
  const span = Math.max(1, endedAt - startedAt);
  const x = (at: number) => round(left + (Math.min(Math.max(at, startedAt), endedAt) - startedAt) * (plot / span));
  const lanes = { title: 26, summary: 46, tokens: 86, attempts: 150, breaker: 198, requests: 252, axis: 310 };
  const height = lanes.axis + 70;
  const parts: string[] = [];
  const text = (px: number, py: number, content: string, attrs = '') => parts.push(`<text x="${px}" y="${py}" ${attrs}>${escapeXml(content)}</text>`);

  text(left, lanes.title, options.title ?? 'credential timeline', `font-size="17" font-weight="600" fill="${COLOURS.text}"`);
  const laneLabel = (py: number, label: string) => text(left - 12, py, label, `font-size="13" text-anchor="end" fill="${COLOURS.text}"`);

  // grid and time axis
  const tick = niceTick(span);
  const inSeconds = tick < 60_000;
  for (let at = startedAt; at <= endedAt + 1; at += tick) {
    const px = x(at);
    parts.push(`<line x1="${px}" y1="${lanes.tokens - 22}" x2="${px}" y2="${lanes.axis}" stroke="${COLOURS.grid}"/>`);
    text(px, lanes.axis + 18, formatOffset(at - startedAt, inSeconds), `font-size="12" text-anchor="middle" fill="${COLOURS.muted}"`);
  }
  parts.push(`<line x1="${left}" y1="${lanes.axis}" x2="${left + plot}" y2="${lanes.axis}" stroke="${COLOURS.muted}"/>`);
  text(left + plot, lanes.axis + 36, `time since start (${inSeconds ? 'm:ss' : 'h:mm'})`, `font-size="12" text-anchor="end" fill="${COLOURS.muted}"`);

  // token lifetimes, alternating between two rows so back-to-back tokens stay distinct
  laneLabel(lanes.tokens + 4, 'tokens');
  recording.tokens.forEach((token, index) => {
    const py = lanes.tokens - 14 + (index % 2) * 16;
    const end = token.expiresAt ?? endedAt;
    parts.push(`<rect x="${x(token.issuedAt)}" y="${py}" width="${Math.max(1, x(end) - x(token.issuedAt))}" height="12" rx="3" fill="${COLOURS.token}" fill-opacity="0.75"/>`);
    if (token.refreshDueAt !== null && token.refreshDueAt <= endedAt) {
      parts.push(`<rect x="${x(token.refreshDueAt) - 1}" y="${py - 2}" width="2" height="16" fill="${COLOURS.tokenDue}"/>`);
    }
  });

  // refresh attempts
  laneLabel(lanes.attempts + 4, 'refreshes');
  for (const attempt of recording.attempts) {
    const colour = attempt.outcome === 'pending' ? COLOURS.abandoned : COLOURS[attempt.outcome];
    const x1 = x(attempt.startedAt);
    const x2 = Math.max(x1 + 2, x(attempt.endedAt ?? endedAt));
    parts.push(`<rect x="${x1 - 1}" y="${lanes.attempts - 9}" width="${x2 - x1 + 2}" height="18" fill="${colour}"/>`);
  }

  // breaker band
  laneLabel(lanes.breaker + 4, 'breaker');
  recording.breaker.forEach((change, index) => {
    const until = recording.breaker[index + 1]?.at ?? endedAt;
    parts.push(`<rect x="${x(change.at)}" y="${lanes.breaker - 12}" width="${Math.max(1, x(until) - x(change.at))}" height="24" fill="${COLOURS[change.state]}"/>`);
  });

  // requests per slot, as shares of that slot's requests: served above the midline, failed below
  laneLabel(lanes.requests + 4, 'requests');
  const slots = Math.max(1, Math.floor(plot / 4));
  const served = new Array<number>(slots).fill(0);
  const failed = new Array<number>(slots).fill(0);
  for (const request of recording.requests) {
    const slot = Math.min(slots - 1, Math.floor(((request.at - startedAt) / span) * slots));
    if (slot < 0) continue;
    (request.ok ? served : failed)[slot]!++;
  }
  const slotWidth = plot / slots;
  parts.push(`<line x1="${left}" y1="${lanes.requests}" x2="${left + plot}" y2="${lanes.requests}" stroke="${COLOURS.grid}"/>`);
  for (let slot = 0; slot < slots; slot++) {
    const px = round(left + slot * slotWidth);
    const w = round(Math.max(1, slotWidth - 1));
    const total = served[slot]! + failed[slot]!;
    if (served[slot]! > 0) {
      const h = round(2 + (served[slot]! / total) * 24);
      parts.push(`<rect x="${px}" y="${round(lanes.requests - h)}" width="${w}" height="${h}" fill="${COLOURS.succeeded}"/>`);
    }
    if (failed[slot]! > 0) {
      const h = round(2 + (failed[slot]! / total) * 24);
      parts.push(`<rect x="${px}" y="${lanes.requests}" width="${w}" height="${h}" fill="${COLOURS.failed}"/>`);
    }
  }
  const okCount = recording.requests.filter((request) => request.ok).length;
  text(
    left,
    lanes.summary,
    `${recording.tokens.length} tokens · ${recording.attempts.length} refresh attempts · ${okCount} requests served, ${recording.requests.length - okCount} failed`,
    `font-size="13" fill="${COLOURS.muted}"`,
  );

  // legend
  const legend: [string, string][] = [
    [COLOURS.token, 'token lifetime'],
    [COLOURS.tokenDue, 'refresh instant'],
    [COLOURS.succeeded, 'refreshed / served'],
    [COLOURS.failed, 'failed'],
    [COLOURS.abandoned, 'abandoned'],
    [COLOURS.closed, 'breaker closed'],
    [COLOURS.halfOpen, 'half-open'],
    [COLOURS.open, 'open'],
  ];
  let lx = left;
  for (const [colour, label] of legend) {
    parts.push(`<rect x="${lx}" y="${height - 24}" width="12" height="12" fill="${colour}"/>`);
    text(lx + 17, height - 14, label, `font-size="12" fill="${COLOURS.text}"`);
    lx += 30 + label.length * 7;
  }

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function niceTick(spanMs: number): number {
  const candidates = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 2 * 3_600_000, 6 * 3_600_000, 24 * 3_600_000];
  return candidates.find((tick) => spanMs / tick <= 12) ?? 7 * 24 * 3_600_000;
}

/** `h:mm`, or `m:ss` for a short recording. */
function formatOffset(ms: number, inSeconds: boolean): string {
  const units = Math.round(ms / (inSeconds ? 1_000 : 60_000));
  return `${Math.floor(units / 60)}:${String(units % 60).padStart(2, '0')}`;
}

function escapeXml(value: string): string {
  return value.replace(/[<>&"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[char]!);
}
