import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { InspectorPortInUse, startLoopbackInspector } from '../../examples/inspector-server.js';
import { HOUR, SECRET, startProvider } from '../helpers.js';

const teardown: Array<() => unknown> = [];
afterEach(async () => {
  while (teardown.length > 0) await teardown.pop()!();
});

async function client(url: string): Promise<{ socket: WebSocket; frames: string[] }> {
  const socket = new WebSocket(url.replace('http:', 'ws:'));
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(data.toString()));
  await once(socket, 'open');
  teardown.push(() => socket.terminate());
  return { socket, frames };
}

describe("the demo's inspector bridge", () => {
  it('listens on 127.0.0.1 only and serves the page that embeds the Stately inspector', async () => {
    const inspector = await startLoopbackInspector(0);
    teardown.push(() => inspector.close());
    expect(inspector.host).toBe('127.0.0.1');
    const page = await (await fetch(inspector.url)).text();
    expect(page).toContain('https://stately.ai/inspect');
  });

  it('sends the provider’s events one way: a client’s message is never relayed, and no frame holds the secret', async () => {
    const inspector = await startLoopbackInspector(0);
    teardown.push(() => inspector.close());
    const browser = await client(inspector.url);
    const intruder = await client(inspector.url);
    intruder.socket.send(JSON.stringify({ type: '@xstate.event', injected: 'by-another-client' }));
    const { clock, script, provider } = await startProvider({ inspect: inspector.inspect });
    teardown.push(() => provider.stop());
    clock.advance(HOUR);
    const next = provider.currentToken();
    script.last.resolve({ secret: `${SECRET}-2`, expiresAt: 3 * HOUR });
    await next;
    await expect.poll(() => browser.frames.some((frame) => frame.includes('"@xstate.snapshot"')), { timeout: 5_000 }).toBe(true);
    // a late browser gets the replay too
    const late = await client(inspector.url);
    await expect.poll(() => late.frames.length, { timeout: 5_000 }).toBeGreaterThan(0);
    for (const frame of [...browser.frames, ...intruder.frames, ...late.frames]) {
      expect(frame.includes('by-another-client')).toBe(false);
      expect(frame.includes(SECRET)).toBe(false);
    }
  });

  it('a port in use is a clear error naming --inspect-port', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    teardown.push(() => new Promise((resolve) => taken.close(resolve)));
    const { port } = taken.address() as AddressInfo;
    await expect(startLoopbackInspector(port)).rejects.toThrow(InspectorPortInUse);
    await expect(startLoopbackInspector(port)).rejects.toThrow(/in use: pick another with --inspect-port/);

    // and the demo says so and exits 1, without a stack trace
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const demo = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--duration', '5', '--inspect', '--inspect-port', String(port)], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(demo.status).toBe(1);
    expect(demo.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    expect(demo.stderr).not.toMatch(/^\s+at /m);
  }, 40_000);
});
