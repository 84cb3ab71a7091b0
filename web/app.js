// The page: picks up photos (drop, paste, file chooser, sample, "Open with" through the launch
// queue, the system's Share menu through the service worker), queues them for the engine,
// shows the photo being computed band by band and the results; downloads one or all (ZIP).
import { onEngineStatus, progressText, startEngine } from './engine.js';
import { addPhotos, cancelAll, cancelItem, clearSettled, configureQueue, finished, items, waiting } from './queue.js';
import { drawBand, hide, setUpViewer, show, shownKey, strength } from './viewer.js';
import { blend, resultName, save, zipResults } from './export.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let settled = 0;
/** Marks that a photo's processing ended (result, error or cancel): tests and scripts wait on it. */
function markSettled() {
  document.body.dataset.settled = String(++settled);
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

/** Said after the engine's name while its kernels warm up (WebGPU, before the first photo). */
const WARMING = ' · preparing the GPU…';

onEngineStatus((status) => {
  const backend = $('backend');
  if (status.state === 'starting') {
    backend.dataset.state = 'starting';
    backend.textContent = 'Starting…';
  } else if (status.state === 'failed') {
    backend.dataset.state = 'failed';
    backend.textContent = 'Could not start';
    showError(`The deblurring engine could not start: ${status.message}`);
  } else if (status.state === 'warm') {
    // The GPU's kernels are compiled and tuned: `tunedBefore` came from an earlier visit.
    backend.dataset.warm = 'done';
    backend.dataset.tunedBefore = String(status.tunedBefore);
    backend.textContent = backend.textContent.replace(WARMING, '');
    if (status.problem) console.warn('the GPU warm-up failed:', status.problem);
  } else {
    const name = status.backend === 'webgpu' ? 'WebGPU' : 'CPU';
    backend.dataset.state = status.backend;
    backend.dataset.warm = status.warming ? 'warming' : 'none';
    backend.textContent = `${name} · ${status.adapter} · model: ${status.description}${status.warming ? WARMING : ''}`;
    if (status.backend === 'cpu' && status.fallbackReason) backend.title = `CPU fallback: ${status.fallbackReason}`;
    document.body.dataset.backend = status.backend;
  }
});

// The viewer follows the photo being computed unless the person chose one to look at.
let following = true;

configureQueue({
  onStart(item) {
    if (following) show(item);
    $('progress').value = 0;
    $('progress').removeAttribute('max');
    $('status').textContent = `Reading ${item.name}…`;
  },
  onProgress(item, progress) {
    $('progress').max = progress.total;
    $('progress').value = progress.done;
    const left = waiting().length;
    $('status').textContent = `${progressText(progress)}${left > 1 ? ` · ${left - 1} more waiting` : ''}`;
    if (progress.band && shownKey() === item.key) drawBand(progress.band);
  },
  onSettled(item) {
    if (item.state === 'failed') showError(item.message);
    if (item.state === 'done' && (following || shownKey() === item.key)) show(item);
    if (item.state !== 'done' && shownKey() === item.key) {
      // Nothing half-done stays on screen: back to the latest result, if any.
      const last = finished().at(-1);
      if (last) show(last); else hide();
    }
    // A waiting photo cancelled or refused does not hide the progress of the running one.
    if (items.some((other) => other.state === 'running')) return markSettled();
    $('status').textContent = {
      done: `Done: ${item.name} in ${item.result?.seconds.toFixed(2)} s`,
      cancelled: `Cancelled: ${item.name}`,
      failed: `Failed: ${item.name}`,
    }[item.state];
    markSettled();
  },
  onShow(item) {
    following = false;
    show(item);
    $('viewport').focus();
  },
  onDownload: download,
  onChange() {
    const busy = waiting().length > 0;
    const done = finished().length;
    $('work').hidden = !busy;
    $('queue-section').hidden = items.length === 0;
    $('download-all').disabled = done === 0;
    $('clear').disabled = busy || items.length === 0;
    $('queue-summary').textContent = `${done} of ${items.length} done`;
    if (!busy) following = true;
  },
});

async function download(item) {
  try {
    save(await blend(item.file, item.result.png, strength()), resultName(item));
  } catch (error) {
    showError(`The download could not be made: ${error.message}`);
  }
}

/** Every way in ends here: the photos join the queue. */
function take(files) {
  files = [...files].filter(Boolean);
  if (files.length === 0) return;
  clearError();
  addPhotos(files);
}

// Ways in: file chooser (a real button, so Enter and Space work), the drop zone (Enter and Space
// open the chooser too), drop, paste, sample.
const openChooser = () => $('file').click();
$('choose').addEventListener('click', openChooser);
$('file').addEventListener('change', (event) => { take(event.target.files); event.target.value = ''; });
const drop = $('drop');
drop.addEventListener('keydown', (event) => {
  if (event.target !== drop || (event.key !== 'Enter' && event.key !== ' ')) return;
  event.preventDefault();
  openChooser();
});
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  take(event.dataTransfer.files);
});
document.addEventListener('paste', (event) => {
  take([...event.clipboardData.items].filter((i) => i.kind === 'file').map((i) => i.getAsFile()));
});
$('sample').addEventListener('click', async () => {
  const response = await fetch('web/samples/text-motion.jpg');
  take([new File([await response.blob()], 'text-motion.jpg', { type: 'image/jpeg' })]);
});
$('cancel').addEventListener('click', () => {
  const running = items.find((item) => item.state === 'running');
  if (running) cancelItem(running);
});
$('cancel-all').addEventListener('click', cancelAll);
$('clear').addEventListener('click', () => {
  clearSettled();
  if (!items.some((item) => item.key === shownKey())) hide();
});
$('download').addEventListener('click', () => {
  const item = items.find((i) => i.key === shownKey() && i.state === 'done');
  if (item) download(item);
});
$('download-all').addEventListener('click', async () => {
  const button = $('download-all');
  button.disabled = true;
  try {
    save(await zipResults(finished(), strength()), 'deblurred-photos.zip');
  } catch (error) {
    showError(`The ZIP could not be made: ${error.message}`);
  } finally {
    button.disabled = finished().length === 0;
  }
});
/** `?memory=MiB`: the network's working memory, for devices with less to spare (or more). */
const memoryBytes = Number(params.get('memory')) > 0 ? Number(params.get('memory')) * 2 ** 20 : undefined;
/** `?warmup=side`: the WebGPU warm-up's tile side (0: none), for tests and benchmarks. */
const warmUpSide = /^\d+$/.test(params.get('warmup') ?? '') ? Number(params.get('warmup')) : undefined;
/** `?tile=side`: square tiles of that side instead of the worker's choice by memory. */
const tileSize = /^\d+$/.test(params.get('tile') ?? '') ? Number(params.get('tile')) : undefined;
const engineOptions = (model) => ({ useGpu: params.get('backend') !== 'cpu', model, memoryBytes, tileSize, warmUpSide });
$('model').addEventListener('change', () => startEngine(engineOptions($('model').value)));

// "Open with" from the system (manifest file_handlers): the files arrive through the launch queue.
if ('launchQueue' in window) {
  window.launchQueue.setConsumer(async (launch) => {
    take(await Promise.all((launch.files ?? []).map((handle) => handle.getFile())));
  });
}

// "Share" from the system (manifest share_target): the service worker received the POST, kept the
// photos in a cache of their own and sent the page here with ?shared; take them and forget them.
async function takeShared() {
  if (!params.has('shared') || !('caches' in window)) return;
  history.replaceState(null, '', location.pathname);
  const cache = await caches.open('deblurgan-shared');
  const files = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    const name = decodeURIComponent(response.headers.get('X-File-Name') ?? 'shared-photo');
    files.push(new File([await response.blob()], name, { type: response.headers.get('Content-Type') ?? '' }));
    await cache.delete(request);
  }
  take(files);
}

// Models to choose from (compact = fast, full = quality), from the weights manifest.
async function listModels() {
  try {
    const manifest = await (await fetch('web/weights/manifest.json')).json();
    const select = $('model');
    for (const model of manifest.models) select.add(new Option(model.label ?? model.id, model.id));
    if (params.get('model')) select.value = params.get('model');
    select.closest('label').hidden = manifest.models.length < 2;
  } catch { /* the worker reports a missing manifest */ }
}

// Offline use and updates: the service worker caches the app; a new version shows a notice.
async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.register('sw.js');
  let updating = false;
  const offer = (waiting) => {
    $('update').hidden = false;
    $('reload').onclick = () => {
      updating = true;
      waiting.postMessage({ type: 'activate' });
    };
  };
  if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const incoming = registration.installing;
    incoming?.addEventListener('statechange', () => {
      if (incoming.state === 'installed' && navigator.serviceWorker.controller) offer(incoming);
    });
  });
  // The new version took over because the person asked for it: show it.
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (updating) location.reload();
  });
  // Look for a new version now and then while the page is open.
  setInterval(() => registration.update().catch(() => {}), 60 * 60 * 1000);
}

setUpViewer();
await listModels();
startEngine(engineOptions($('model').value || params.get('model') || undefined));
takeShared().catch((error) => showError(`The shared photos could not be read: ${error.message}`));
registerServiceWorker().catch((error) => console.warn('offline support unavailable:', error));
