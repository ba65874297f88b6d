/**
 * The process side of a worker that runs sessions one after another (`test/fleet/worker.ts`,
 * `test/sdk/aws-fleet-worker.ts`): the first session from the settings in argv[2], each next one
 * from a `start` message once the one before has stopped. `stop` answers with the session's last
 * report and leaves the process waiting; `report` answers with the report so far. Each session makes
 * its own connections, mint and provider, as a process starting would; the harness (`harness.ts`)
 * hands a stopped process to the next case of its file rather than forking another, since a
 * process's start (Node, the bundle, node-redis building its command class, an SDK's clients) cost
 * 0.6 s of CPU and more, thirty times over in the fleet file alone.
 */

/** One session of a worker: what it saw so far, and its stop. */
export interface Session<Report> {
  report(): Report;
  /** Stops the session (its provider, coordination and connections) and returns its last report. */
  stop(): Promise<Report>;
}

/**
 * Runs `start`'s sessions in this process, as the harness asks over IPC, until the harness's process
 * disconnects.
 *
 * @example
 * ```ts
 * runSessions(async (settings: WorkerSettings) => ({ report, stop }));
 * ```
 */
export function runSessions<Settings, Report>(start: (settings: Settings) => Promise<Session<Report>>): void {
  let session: Promise<Session<Report>> | null = start(JSON.parse(process.argv[2]!) as Settings);
  const onMessage = async (message: { type: string; settings?: Settings }): Promise<void> => {
    if (message.type === 'report' && session !== null) process.send?.((await session).report());
    if (message.type === 'stop' && session !== null) {
      const stopping = session;
      session = null;
      process.send?.(await (await stopping).stop());
    }
    if (message.type === 'start' && session === null) session = start(message.settings!);
  };
  process.on('message', (message: { type: string; settings?: Settings }) => {
    onMessage(message).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
  // the harness's process gone (its test file ended): this one ends too
  process.on('disconnect', () => process.exit(0));
}

/** A session's request loop (`serveUntilStopped`). */
export interface ServingLoop {
  /** False once `stop()` was called: a failure after that is the stop's, not the session's. */
  running(): boolean;
  /** Ends the loop once the request in flight has finished: a STOPPED answer to it would be the harness's doing. */
  stop(): Promise<void>;
}

/**
 * Calls `serveOnce` again and again, `pauseMs` apart, as an app under load would, until `stop()`.
 *
 * @example
 * ```ts
 * const loop = serveUntilStopped(async () => void (await provider.currentToken()), 10);
 * await loop.stop();
 * ```
 */
export function serveUntilStopped(serveOnce: () => Promise<void>, pauseMs: number): ServingLoop {
  let running = true;
  const serving = (async () => {
    while (running) {
      await serveOnce();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    running: () => running,
    stop: () => {
      running = false;
      return serving;
    },
  };
}
