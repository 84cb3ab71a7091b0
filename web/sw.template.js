// Service worker: caches the app shell, the wasm and the weights at install, then serves them
// from the cache, so the page works with the network gone. The build writes VERSION and ASSETS;
// a new build is a new file, which the browser sees as an update (the page shows a notice).
// It also answers the system's Share menu (the manifest's share_target), network or not.
// Everything it serves carries COOP/COEP, so the page is cross-origin isolated (its CPU path on
// threads) once installed and offline, and where the host sends no such headers.
const VERSION = '__VERSION__';
const ASSETS = __ASSETS__;
const CACHE = `deblurgan-${VERSION}`;
/** Photos shared to the app wait here until the page takes them (and deletes them). */
const SHARED = 'deblurgan-shared';
const SHARE_TARGET = new URL('share-target', self.registration.scope).pathname;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE && key !== SHARED) await caches.delete(key);
    await self.clients.claim();
  })());
});

// The page asks a waiting new version to take over when the person clicks "Reload".
self.addEventListener('message', (event) => {
  if (event.data?.type === 'activate') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method === 'POST' && url.origin === location.origin && url.pathname === SHARE_TARGET) {
    event.respondWith(receiveShared(event.request));
    return;
  }
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(event.request, { ignoreSearch: true });
    return isolated(cached ?? (await fetch(event.request)));
  })());
});

/** `response` with the headers that make a page cross-origin isolated. */
function isolated(response) {
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** A share (multipart POST, field "photos"): keeps the images for the page, then sends the page
 *  to them with a 303 redirect. Nothing is sent anywhere. */
async function receiveShared(request) {
  const form = await request.formData();
  const cache = await caches.open(SHARED);
  let count = 0;
  for (const file of form.getAll('photos')) {
    if (!(file instanceof File)) continue;
    const headers = { 'Content-Type': file.type, 'X-File-Name': encodeURIComponent(file.name) };
    await cache.put(new Request(`shared/${Date.now()}-${count++}`), new Response(file, { headers }));
  }
  return Response.redirect(new URL(`./?shared=${count}`, self.registration.scope).href, 303);
}
