import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (tens of seconds each, most of it waiting on real time or computing
 * a thousand schedules), longest first. Started first, they overlap the many short files; started
 * last, the suite waits on them at its end. vitest orders by the durations of the last run, which a
 * fresh clone (CI) has not got: there it ordered by file size and finished 28 s later.
 */
export const LONGEST_FIRST = [
  'test/browser/browser-tabs.test.ts',
  'test/package/package.test.ts',
  'test/simulation/tabs.sim.test.ts',
  'test/simulation/fleet.sim.test.ts',
  'test/redis/fleet.test.ts',
  'test/demo/demo.test.ts',
  'test/redis/refresh-rotation.test.ts',
  'test/package/docs.test.ts',
  'test/redis/redis-coordination.test.ts',
  'test/sdk/sdk-source-fleet.test.ts',
  'test/azure/azurite.test.ts',
  'test/aws/aws-fleet.test.ts',
  'test/aws/aws.test.ts',
  'test/azure/azure.test.ts',
  'test/redis/redis-seams.test.ts',
];

/**
 * vitest's own order (failed first, then the last run's durations, else size), with the files of
 * {@link LONGEST_FIRST} ahead of the rest, in its order.
 *
 * @example
 * ```ts
 * export default defineConfig({ test: { sequence: { sequencer: LongestFirst } } });
 * ```
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((name) => file.moduleId.endsWith(name));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
