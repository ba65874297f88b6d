import { rmSync } from 'node:fs';
import { ensureRedisServer } from '../../examples/redis-server.js';
import { COMPILED_SCRIPTS } from '../../examples/compiled-script.js';

/**
 * Runs once before the suite: the Redis tests need `redis-server`, installed here if it is missing
 * (as root); the test scripts compiled by an earlier run are removed (each run compiles its own).
 */
export default function setup(): void {
  ensureRedisServer();
  rmSync(COMPILED_SCRIPTS, { recursive: true, force: true });
}
