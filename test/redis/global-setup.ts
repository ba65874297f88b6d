import { ensureRedisServer } from '../../examples/redis-server.js';

/** Runs once before the suite: the Redis tests need `redis-server`, installed here if it is missing (as root). */
export default function setup(): void {
  ensureRedisServer();
}
