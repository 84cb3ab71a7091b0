// Service worker: caches the app shell, the wasm and the weights at install, then serves them
// from the cache, so the page works with the network gone. The build writes VERSION and ASSETS;
// a new build is a new file, which the browser sees as an update (the page shows a notice).
const VERSION = '__VERSION__';
const ASSETS = __ASSETS__;
const CACHE = `deblurgan-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

// The page asks a waiting new version to take over when the person clicks "Reload".
self.addEventListener('message', (event) => {
  if (event.data?.type === 'activate') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(event.request, { ignoreSearch: true });
    if (cached) return cached;
    return fetch(event.request);
  })());
});
