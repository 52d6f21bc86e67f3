// The field app's service worker: a versioned app shell, served from the cache,
// so the app opens with no signal. Records live in IndexedDB and are never
// touched here; /v1/* (the server's API) is never cached.
//
// build.mjs replaces the two placeholders below with the version and file list.

const VERSION = "bf2c3cb23b820cf4";
const FILES = ["app.css","app.js","automerge.wasm","icon.svg","index.html","manifest.webmanifest"];
const PREFIX = 'fengqiao-field-';
const CACHE = PREFIX + VERSION;
const BASE = '/field/';

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // `reload`: fetch past the HTTP cache, so the shell is the one this version names.
      cache.addAll(FILES.map((name) => new Request(BASE + name, { cache: 'reload' }))),
    ),
  );
  // No skipWaiting here: a new version waits until the app offers a reload,
  // so a page never runs code of two versions at once.
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skipWaiting') self.skipWaiting();
  if (event.data && event.data.type === 'version' && event.ports[0]) event.ports[0].postMessage(VERSION);
});

function isShellNavigation(url, request) {
  return request.mode === 'navigate' && (url.pathname === '/field' || url.pathname === '/field/' || url.pathname === '/field/index.html');
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/')) return; // the API: always the network
  if (isShellNavigation(url, request)) {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match(BASE + 'index.html'))
        .then((hit) => hit || fetch(request)),
    );
    return;
  }
  if (url.pathname.startsWith(BASE) && FILES.includes(url.pathname.slice(BASE.length))) {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match(url.pathname))
        .then((hit) => hit || fetch(request)),
    );
  }
});
