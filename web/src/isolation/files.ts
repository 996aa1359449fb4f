/**
 * The site's service worker file (sw.ts, built by vite.config.ts to this name at the site's root,
 * unhashed: a worker's scope is its folder, and the browser finds a new version by fetching the
 * same URL again). register.ts registers it relative to the page, so the site works from any sub-path.
 */
export const ISOLATION_WORKER_FILE = 'isolation-sw.js';
