/**
 * The static site's service worker (built to isolation-sw.js beside index.html; registered by
 * register.ts). Hosts such as GitHub Pages or a plain static file server send no COOP/COEP
 * headers, so the page is not cross-origin isolated and onnxruntime-web runs on one thread. This
 * worker answers the site's own (same-origin) requests with the network's response plus those
 * headers (server/isolation.ts); the page, once loaded through it, is isolated. It caches nothing
 * and leaves requests to other origins to the browser (the site makes none).
 *
 * Built as a classic script (no imports or exports in the output; vite.config.ts checks), which
 * every browser with service workers runs.
 */
import { CROSS_ORIGIN_ISOLATION } from '../../../src/server/isolation.js';

// The WebWorker lib clashes with the page's DOM lib; these are the few service-worker types used.
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface ServiceWorkerScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
}

const scope = self as unknown as ServiceWorkerScope;

// A new version takes over at once, and controls the site's open tabs without their reload.
scope.addEventListener('install', (event) => event.waitUntil(scope.skipWaiting()));
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));

scope.addEventListener('fetch', (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== scope.location.origin) return;
  // Chromium's "only-if-cached" requests (devtools) throw in fetch() unless same-origin mode.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(fetch(request).then(isolated));
});

/**
 * The response with COOP/COEP added. Left as it is: an opaque redirect (a navigation's redirect,
 * which the browser follows itself), an error, and a redirected response (a copy would lose its
 * final URL, against which a script resolves its imports).
 */
function isolated(response: Response): Response {
  if (response.type === 'opaqueredirect' || response.status === 0 || response.redirected) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(CROSS_ORIGIN_ISOLATION)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
