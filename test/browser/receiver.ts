/** The receiving end of the browser inspector: records every message it is posted, as text. */
import { createBrowserReceiver } from '@statelyai/inspect';

declare global {
  interface Window {
    received: string[];
    posted: string[];
  }
}

window.received = [];
window.posted = [];
window.addEventListener('message', (event) => window.posted.push(JSON.stringify(event.data)));
createBrowserReceiver().subscribe((event) => window.received.push(JSON.stringify(event)));
