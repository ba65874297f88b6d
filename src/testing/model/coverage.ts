import { CredentialError } from '../../../machines/credential-error.js';
import { credentialMachine, type CredentialMachine } from '../../../machines/credential.machine.js';
import { toDot } from '../diagram.js';
import { inventory } from './graph.js';
import type { ReplayResult } from './replay.js';
import type { CredentialScenario } from './scenarios.js';

/** What a set of replayed scenarios covered of the statechart. */
export interface CoverageReport {
  /** Scenarios replayed, and their steps in total. */
  readonly paths: number;
  readonly steps: number;
  readonly states: { readonly total: number; readonly uncovered: string[]; readonly pathsThrough: Record<string, number> };
  readonly transitions: {
    readonly total: number;
    /** Readable labels (`source --event [guard]--> target`) of the transitions no scenario took. */
    readonly uncovered: string[];
    /** Every transition: its key, label, and how many scenarios took it. */
    readonly list: { key: string; label: string; paths: number }[];
  };
}

/**
 * Tallies, for every state node and transition of the statechart, how many replayed scenarios went
 * through it (as the provider really did, seen through XState's inspection); anything at zero is
 * uncovered. Scenarios generated without `coordination` are measured against the statechart
 * without its `sharing` region's phases (a provider alone never enters them): its states other
 * than `idle` and its transitions are left out of the totals.
 *
 * @example
 * ```ts
 * const report = scenarioCoverage(scenarios, results);
 * console.log(coverageLine(report)); // paths 33, steps 93, states 11/11, transitions 25/25
 * ```
 */
export function scenarioCoverage(
  scenarios: readonly CredentialScenario[],
  results: readonly Pick<ReplayResult, 'states' | 'transitions'>[],
  machine: CredentialMachine = credentialMachine,
): CoverageReport {
  const everything = inventory(machine);
  const shared = scenarios.some((scenario) => scenario.model.sharedMint);
  const inScope = (id: string) => shared || !id.startsWith(SHARING_REGION);
  const states = everything.states.filter((id) => id === `${SHARING_REGION}.idle` || id === SHARING_REGION || inScope(id));
  const transitions = new Map([...everything.transitions].filter(([key]) => inScope(key)));
  const statePaths = Object.fromEntries(states.map((id) => [id, 0]));
  const transitionPaths = new Map([...transitions.keys()].map((key) => [key, 0]));
  for (const result of results) {
    for (const id of result.states) if (id in statePaths) statePaths[id]!++;
    for (const key of result.transitions) if (transitionPaths.has(key)) transitionPaths.set(key, transitionPaths.get(key)! + 1);
  }
  return {
    paths: results.length,
    steps: scenarios.reduce((sum, scenario) => sum + scenario.steps.length, 0),
    states: { total: states.length, uncovered: states.filter((id) => statePaths[id] === 0), pathsThrough: statePaths },
    transitions: {
      total: transitions.size,
      uncovered: [...transitionPaths].filter(([, paths]) => paths === 0).map(([key]) => transitions.get(key)!),
      list: [...transitionPaths].map(([key, paths]) => ({ key, label: transitions.get(key)!, paths })),
    },
  };
}

/** The region a mint shared across processes reports its phases in. */
const SHARING_REGION = 'credential.sharing';

/**
 * The one-line summary: `paths 33, steps 93, states 11/11, transitions 25/25`.
 *
 * @example
 * ```ts
 * expect(coverageLine(report)).toMatch(/states (\d+)\/\1, transitions (\d+)\/\2/);
 * ```
 */
export function coverageLine(report: CoverageReport): string {
  const { paths, steps, states, transitions } = report;
  return (
    `paths ${paths}, steps ${steps}, ` + `states ${states.total - states.uncovered.length}/${states.total}, ` + `transitions ${transitions.total - transitions.uncovered.length}/${transitions.total}`
  );
}

/**
 * The statechart as Graphviz DOT, each transition coloured and labelled by how many scenarios took
 * it (red and dashed: none), as `visualizations/credential.coverage.svg` is drawn.
 *
 * @example
 * ```ts
 * writeFileSync('coverage.dot', coverageDot(report));
 * ```
 */
export function coverageDot(report: CoverageReport, machine: CredentialMachine = credentialMachine): string {
  return toDot(machine, new Map(report.transitions.list.map(({ key, paths }) => [key, paths])));
}

/**
 * {@link coverageDot} rendered to SVG. Needs the optional peer dependency `@hpcc-js/wasm-graphviz`
 * (Graphviz compiled to WebAssembly): `npm install --save-dev @hpcc-js/wasm-graphviz`. Without it,
 * it rejects with a `CredentialError` with code `UNCONFIGURED` that says so.
 *
 * @example
 * ```ts
 * writeFileSync('coverage.svg', await coverageSvg(report));
 * ```
 */
export async function coverageSvg(report: CoverageReport, machine: CredentialMachine = credentialMachine): Promise<string> {
  let Graphviz: { load(): Promise<{ dot(source: string): string }> };
  try {
    ({ Graphviz } = (await import('@hpcc-js/wasm-graphviz')) as unknown as { Graphviz: typeof Graphviz });
  } catch {
    throw new CredentialError('UNCONFIGURED', 'coverageSvg needs the optional peer dependency @hpcc-js/wasm-graphviz: npm install --save-dev @hpcc-js/wasm-graphviz');
  }
  return (await Graphviz.load()).dot(coverageDot(report, machine));
}

/**
 * The coverage as stable JSON (key order fixed, one trailing newline), for a committed file.
 *
 * @example
 * ```ts
 * writeFileSync('coverage.json', coverageJson(report));
 * ```
 */
export function coverageJson(report: CoverageReport): string {
  const { paths, steps, states, transitions } = report;
  return `${JSON.stringify({ summary: coverageLine(report), paths, steps, states: states.pathsThrough, transitions: transitions.list }, null, 2)}\n`;
}
