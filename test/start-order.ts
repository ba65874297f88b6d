import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order the long files start in, ahead of the rest. The longest (tens of seconds each, most of
 * it waiting on real time or computing a thousand schedules) start first: started last, the suite
 * waits on them at its end (vitest orders by the durations of the last run, which a fresh clone, CI,
 * has not got: there it ordered by file size and finished 28 s later). The two files that run in a
 * process of their own (`OWN_PROCESS`) come first of all: started later, each took the place of a
 * worker that had loaded the shared modules, and a new worker loaded them all again after it (two
 * workers' loads of the suite's modules, measured in one run). After the longest, a file that waits
 * on real time alternates with one that computes: in the order of their lengths alone, the AWS,
 * Azure and SDK-source files, all waiting, ran together while the cores were half idle (48% busy for
 * ten seconds), and the computing ones ran after them, on a core each. The shortest files that wait
 * (the inspector's and the README's processes) come last of the list, beside the many short files
 * that compute (7.7 s of CPU in all), which keep the cores busy to the end.
 */
export const START_ORDER = [
  'test/sdk/sdk-source-fleet.test.ts',
  'test/package/bench-smoke.test.ts',
  'test/browser/browser-tabs.test.ts',
  'test/package/package.test.ts',
  'test/simulation/tabs.sim.test.ts',
  'test/simulation/fleet.sim.test.ts',
  'test/redis/fleet.test.ts',
  'test/demo/demo.test.ts',
  'test/redis/refresh-rotation.test.ts',
  'test/package/docs.test.ts',
  'test/redis/redis-coordination.test.ts',
  'test/azure/azurite.test.ts',
  'test/core/leaks.test.ts',
  'test/aws/aws-fleet.test.ts',
  'test/testing/model-based.test.ts',
  'test/aws/aws.test.ts',
  'test/pool/pool-seams.test.ts',
  'test/azure/azure.test.ts',
  'test/pool/pool-random-schedules.test.ts',
  'test/oauth2/oauth2-integration.test.ts',
  'test/pool/pool.test.ts',
  'test/redis/redis-seams.test.ts',
  'test/testing/scenarios.test.ts',
  'test/redis/redis-cluster.test.ts',
  'test/core/random-schedules.test.ts',
  'test/demo/inspector-shutdown.test.ts',
  'test/demo/readme-redis.test.ts',
  'test/demo/demo-inspector.test.ts',
  'test/browser/browser-coordination.test.ts',
  'test/browser/browser-inspector.test.ts',
  'test/demo/readme-shutdown.test.ts',
];

/**
 * vitest's own order (failed first, then the last run's durations, else size), with the files of
 * {@link START_ORDER} ahead of the rest, in its order.
 *
 * @example
 * ```ts
 * export default defineConfig({ test: { sequence: { sequencer: StartOrder } } });
 * ```
 */
export class StartOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = START_ORDER.findIndex((name) => file.moduleId.endsWith(name));
      return index === -1 ? START_ORDER.length : index;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
