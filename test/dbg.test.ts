import { it } from 'vitest';
import { generatePaths } from './model/graph.js';
import { replayPath } from './model/replay.js';
it('dbg', async () => {
  for (const mode of ['on-demand', 'proactive'] as const) {
    const t = performance.now();
    const paths = generatePaths((await import('../machines/credential.machine.js')).credentialMachine, mode);
    console.log(mode, paths.length, Math.round(performance.now() - t));
    for (const p of paths) {
      try { await replayPath(p); } catch (e) { console.log('FAIL', (e as Error).message); }
    }
  }
}, 300000);
