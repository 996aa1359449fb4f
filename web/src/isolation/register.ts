/**
 * Cross-origin isolation where the host sends no COOP/COEP headers (GitHub Pages, a plain static
 * file server): registers the site's service worker (sw.ts), which adds them, and reloads the page
 * once so that it loads through the worker. Afterwards every visit is isolated from the start.
 * Nothing happens where the page is isolated already (`dit serve --browser` sends the headers),
 * where service workers are unavailable (file://, http:// on a non-local host, a browser without
 * them or without cross-origin isolation) or registration fails: the page then runs on one thread.
 */
import { ISOLATION_WORKER_FILE } from './files.js';

/** In sessionStorage while this tab has reloaded for isolation and is not isolated yet: no second reload. */
const RELOADED_KEY = 'dit-isolation-reload';

/** How long to wait for a registered worker to become active before going on without it. */
const ACTIVATE_TIMEOUT_MS = 5_000;

/**
 * Resolves when the page should go on (isolated, or not to be in this tab); never resolves when
 * it reloads the page (location.reload keeps the URL, share-link query included).
 */
export async function crossOriginIsolate(): Promise<void> {
  if (typeof crossOriginIsolated !== 'boolean' || !isSecureContext || !('serviceWorker' in navigator)) return;
  let storage: Storage;
  try {
    storage = sessionStorage;
    if (crossOriginIsolated) {
      storage.removeItem(RELOADED_KEY);
      return;
    }
    // Reloaded once and still not isolated (the browser ignored the worker's headers, or the
    // reload bypassed it): go on with one thread rather than reload again.
    if (storage.getItem(RELOADED_KEY) !== null) {
      console.warn('cross-origin isolation: still not isolated after reloading under the service worker; running on one thread');
      return;
    }
  } catch {
    return; // no sessionStorage (blocked storage): without the guard, no reload
  }
  try {
    await activated(await navigator.serviceWorker.register(ISOLATION_WORKER_FILE));
    storage.setItem(RELOADED_KEY, String(Date.now()));
  } catch (err) {
    console.warn('cross-origin isolation: no service worker, running on one thread:', err);
    return;
  }
  location.reload();
  return new Promise<never>(() => {});
}

/** Resolves when the registration's worker is active; rejects when it fails to install or takes too long. */
function activated(registration: ServiceWorkerRegistration): Promise<void> {
  const worker = registration.installing ?? registration.waiting ?? registration.active;
  if (!worker) return Promise.reject(new Error('the registration has no service worker'));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => settle(new Error(`the service worker did not start within ${ACTIVATE_TIMEOUT_MS / 1000} s`)), ACTIVATE_TIMEOUT_MS);
    const settle = (err?: Error) => {
      clearTimeout(timer);
      worker.removeEventListener('statechange', check);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      if (worker.state === 'activated') settle();
      else if (worker.state === 'redundant') settle(new Error('the service worker failed to install'));
    };
    worker.addEventListener('statechange', check);
    check();
  });
}
