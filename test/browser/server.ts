import { createServer } from 'node:http';
import { bundleForBrowser } from '../../examples/bundle-for-browser.js';
import { listen } from '../sdk/local-servers.js';

const bundle = (entry: string) => bundleForBrowser(new URL(entry, import.meta.url));

const page = (script: string, body = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>credential-actor</title></head><body>${body}<script type="module" src="/${script}"></script></body></html>`;

/** Bundles the app and receiver pages for browsers and serves them on 127.0.0.1 with a port from the OS. */
export async function startPageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const files: Record<string, { type: string; body: string }> = {
    '/app.html': { type: 'text/html', body: page('app.js', '<iframe id="receiver"></iframe>') },
    '/receiver.html': { type: 'text/html', body: page('receiver.js') },
    '/app.js': { type: 'text/javascript', body: await bundle('./app.ts') },
    '/receiver.js': { type: 'text/javascript', body: await bundle('./receiver.ts') },
  };
  const server = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://127.0.0.1').pathname];
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type }).end(file.body);
  });
  return listen(server);
}
