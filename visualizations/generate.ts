/**
 * `npm run visualize`: draws the statechart and the outage scenario into `visualizations/`.
 * Everything is read from `credentialMachine` (and `coverage.json`, which the model-based tests
 * write), so the pictures cannot drift from the machine; a test regenerates them in memory and
 * fails when a committed file is stale.
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { credentialMachine } from '../machines/credential.machine.js';
import { poolMachine } from '../machines/pool.machine.js';
import { refreshTokenMachine } from '../machines/refresh-token.machine.js';
import { renderTimeline } from '../src/timeline/index.js';
import { toDot, toMermaid } from '../src/testing/diagram.js';
import { OUTAGE_SCENARIO, runOutageScenario } from './outage-scenario.js';

export const VISUALIZATIONS_DIR = new URL('./', import.meta.url);

/** Every generated file, by name, as it should be committed. */
export async function renderAll(): Promise<Record<string, string>> {
  const graphviz = await Graphviz.load();
  const files: Record<string, string> = {};
  files['credential.mmd'] = toMermaid(credentialMachine);
  files['credential.dot'] = toDot(credentialMachine);
  files['credential.svg'] = graphviz.dot(files['credential.dot']);
  files['pool.mmd'] = toMermaid(poolMachine);
  files['pool.dot'] = toDot(poolMachine);
  files['pool.svg'] = graphviz.dot(files['pool.dot']);
  files['refresh-token.mmd'] = toMermaid(refreshTokenMachine);
  files['refresh-token.dot'] = toDot(refreshTokenMachine);
  files['refresh-token.svg'] = graphviz.dot(files['refresh-token.dot']);
  const coverage = readCoverage();
  if (coverage !== null) {
    files['credential.coverage.dot'] = toDot(credentialMachine, coverage);
    files['credential.coverage.svg'] = graphviz.dot(files['credential.coverage.dot']);
  }
  const { outage } = OUTAGE_SCENARIO;
  files['outage-timeline.svg'] = renderTimeline(await runOutageScenario(), {
    title: `6 h, proactive, 15-min tokens, a request every 30 s; issuer down ${clock(outage.fromMs)}–${clock(outage.toMs)}`,
  });
  return files;
}

function clock(ms: number): string {
  const minutes = ms / 60_000;
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

function readCoverage(): Map<string, number> | null {
  try {
    const { transitions } = JSON.parse(readFileSync(new URL('coverage.json', VISUALIZATIONS_DIR), 'utf8')) as {
      transitions: { key: string; paths: number }[];
    };
    return new Map(transitions.map(({ key, paths }) => [key, paths]));
  } catch {
    return null;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await renderAll();
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(new URL(name, VISUALIZATIONS_DIR), content);
    console.log(`wrote visualizations/${name} (${content.length} bytes)`);
  }
}
