import { createCredentialPool } from './src/index.js';
import { ManualClock } from './src/testing.js';
const HOUR = 3600000;
for (const n of [1000, 100000]) {
  const clock = new ManualClock(0);
  const pool = createCredentialPool({ clock, mint: async () => ({ secret: 's', expiresAt: HOUR }), maxKeys: n, maxMintsInFlight: 1000 });
  let t = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => pool.currentToken('k' + i)));
  const a = performance.now() - t;
  t = performance.now();
  await pool.stop();
  const b = performance.now() - t;
  console.log(n, 'first/key us', (a * 1000 / n).toFixed(0), 'stop/key us', (b * 1000 / n).toFixed(0), 'heap MB', (process.memoryUsage().heapUsed / 1e6).toFixed(0));
}
