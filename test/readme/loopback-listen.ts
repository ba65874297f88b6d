/**
 * Preloaded (`--import`) into the process that runs a README snippet: a server the snippet starts
 * (`.listen(8080)`, as its users have it) listens on 127.0.0.1 with a port from the OS instead, and
 * the port is printed (`listening <port>`) for the test.
 */
import { Server } from 'node:http';

const listen = Server.prototype.listen as (this: Server, port: number, host: string, callback?: () => void) => Server;
Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
  this.once('listening', () => {
    const address = this.address();
    console.log(`listening ${typeof address === 'object' && address !== null ? address.port : address}`);
  });
  return listen.call(this, 0, '127.0.0.1', callback);
} as typeof Server.prototype.listen;
