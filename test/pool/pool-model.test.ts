import { describe, expect, it } from 'vitest';
import { poolMachine } from '../../machines/pool.machine.js';
import { generatePoolPaths, pathOf, poolInventory } from '../pool-model/world.js';
import { PoolPathMismatch, replayPoolPath, type PoolReplayResult } from '../pool-model/replay.js';

/**
 * The pool statechart's model-based tests: paths generated from `poolMachine`'s own transitions
 * (through `xstate/graph` over a model world of keys and mints), each replayed against a real pool.
 */
const generationStartedAt = performance.now();
const paths = generatePoolPaths();
const generationMs = performance.now() - generationStartedAt;
const results: PoolReplayResult[] = [];

describe('model-based: every path generated from poolMachine, replayed against the real pool', () => {
  it.each(paths.map((path) => [path.name, path] as const))('%s', async (_name, path) => {
    results.push(await replayPoolPath(path));
  });

  it('covers every state and every transition of the pool statechart', () => {
    expect(results).toHaveLength(paths.length);
    const { states, transitions } = poolInventory(poolMachine);
    const statesCovered = states.filter((id) => results.some((result) => result.states.has(id)));
    const transitionsCovered = [...transitions.keys()].filter((key) => results.some((result) => result.transitions.has(key)));
    const steps = paths.reduce((sum, path) => sum + path.steps.length, 0);
    console.log(
      `pool: paths ${paths.length}, steps ${steps}, states ${statesCovered.length}/${states.length}, transitions ${transitionsCovered.length}/${transitions.size} (generated in ${Math.round(generationMs)} ms)`,
    );
    expect(states.filter((id) => !statesCovered.includes(id))).toEqual([]);
    expect([...transitions].filter(([key]) => !transitionsCovered.includes(key)).map(([, label]) => label)).toEqual([]);
  });
});

describe('the pool model-based tests can fail', () => {
  // A deliberately broken statechart: failures never reach the threshold, so `closed → open` on counting is unreachable.
  const broken = poolMachine.provide({ guards: { failureReachesThreshold: () => false } });
  const TRIP_ON_COUNT = [...poolInventory().transitions].find(([, label]) => label.includes('[failureReachesThreshold]'))![0];

  it('the shipped machine’s paths, with the model following the broken one, find the real pool disagreeing', async () => {
    const tripping = paths.filter((path) => path.steps.some(({ world }) => world.took.includes(TRIP_ON_COUNT)));
    expect(tripping.length).toBeGreaterThan(0);
    for (const path of tripping) {
      const onBroken = pathOf(
        path.steps.map(({ action }) => action),
        broken,
      );
      await expect(replayPoolPath(onBroken)).rejects.toBeInstanceOf(PoolPathMismatch);
    }
  });

  it('the broken machine’s own paths leave the trip uncovered', () => {
    const { transitions } = poolInventory(broken);
    const taken = new Set(generatePoolPaths(broken).flatMap((path) => path.steps.flatMap(({ world }) => world.took)));
    const untaken = [...transitions].filter(([key]) => !taken.has(key)).map(([, label]) => label);
    expect(untaken).toEqual(['pool.issuer.closed --issuer.failed [failureReachesThreshold]--> pool.issuer.open']);
  });
});
