import { compiledScript } from '../../examples/compiled-script.js';
import { runNode } from '../run-node.js';

/** Runs a TypeScript script (compiled once: `compiledScript`) in a process of its own to its end: its exit code and what it printed. */
export function runScript(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([compiledScript(script), ...args]);
}
