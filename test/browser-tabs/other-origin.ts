/** A page on another origin that listens where the tabs talk and looks where they store: it must find nothing. */
declare global {
  interface Window {
    overheard?: unknown[];
    databases?: string[];
  }
}
window.overheard = [];
for (const name of ['credential-actor:tabs']) {
  new BroadcastChannel(name).addEventListener('message', (event) => window.overheard!.push(event.data));
}
void indexedDB.databases().then((databases) => (window.databases = databases.map((database) => database.name ?? '')));
export {};
