import { readFileSync, writeFileSync } from 'node:fs';
import type { CredentialMachine } from '../../machines/credential.machine.js';
import { inventory, type GeneratedPath } from './graph.js';
import type { ReplayResult } from './replay.js';

/** Where the per-transition coverage goes, for the pictures in `visualizations/`. */
export const COVERAGE_FILE = new URL('../../visualizations/coverage.json', import.meta.url);

/** What the generated paths covered when replayed against the real provider. */
export interface CoverageReport {
  readonly paths: number;
  readonly steps: number;
  readonly states: { readonly total: number; readonly uncovered: string[]; readonly pathsThrough: Record<string, number> };
  readonly transitions: {
    readonly total: number;
    readonly uncovered: string[];
    readonly list: { key: string; label: string; paths: number }[];
  };
}

/**
 * Tallies, for every state node and transition of `machine`, how many replayed paths went
 * through it; anything at zero is uncovered.
 */
export function coverageOf(machine: CredentialMachine, generated: readonly GeneratedPath[], results: readonly ReplayResult[]): CoverageReport {
  const { states, transitions } = inventory(machine);
  const statePaths = Object.fromEntries(states.map((id) => [id, 0]));
  const transitionPaths = new Map([...transitions.keys()].map((key) => [key, 0]));
  for (const result of results) {
    for (const id of result.states) if (id in statePaths) statePaths[id]!++;
    for (const key of result.transitions) if (transitionPaths.has(key)) transitionPaths.set(key, transitionPaths.get(key)! + 1);
  }
  return {
    paths: generated.length,
    steps: generated.reduce((sum, { path }) => sum + path.steps.length - 1, 0),
    states: {
      total: states.length,
      uncovered: states.filter((id) => statePaths[id] === 0),
      pathsThrough: statePaths,
    },
    transitions: {
      total: transitions.size,
      uncovered: [...transitionPaths].filter(([, paths]) => paths === 0).map(([key]) => transitions.get(key)!),
      list: [...transitionPaths].map(([key, paths]) => ({ key, label: transitions.get(key)!, paths })),
    },
  };
}

/**
 * The one-line summary: `paths 35, steps 120, states 11/11, transitions 26/26`.
 */
export function coverageLine(report: CoverageReport): string {
  const { paths, steps, states, transitions } = report;
  return (
    `paths ${paths}, steps ${steps}, ` +
    `states ${states.total - states.uncovered.length}/${states.total}, ` +
    `transitions ${transitions.total - transitions.uncovered.length}/${transitions.total}`
  );
}

/** The coverage as committed JSON: stable key order, one trailing newline. */
export function coverageJson(report: CoverageReport): string {
  const { paths, steps, states, transitions } = report;
  return `${JSON.stringify(
    {
      summary: coverageLine(report),
      paths,
      steps,
      states: states.pathsThrough,
      transitions: transitions.list,
    },
    null,
    2,
  )}\n`;
}

/** Reads the committed coverage file, or `null` if there is none. */
export function committedCoverage(): string | null {
  try {
    return readFileSync(COVERAGE_FILE, 'utf8');
  } catch {
    return null;
  }
}

/** Writes the coverage file. */
export function writeCoverage(json: string): void {
  writeFileSync(COVERAGE_FILE, json);
}
