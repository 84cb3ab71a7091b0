// The page: picks up photos (drop, paste, file picker, sample), sends them to the inference
// worker, shows progress, the before/after comparison with zoom and pan, and the download.

const $ = (id) => document.getElementById(id);

/** Tiles of 256² keep every WebGPU buffer far below the default 128 MiB binding limit. */
const TILE_SIZE = 256;
const OVERLAP = 64;
/** Largest photo accepted: 48 megapixels. */
const MAX_PIXELS = 48_000_000;
const params = new URLSearchParams(location.search);

let worker = null;
let workerReady = null;
let nextJob = 1;
let job = null; // { id, name, started, beforeUrl }
let resultUrl = null;

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

function setBusy(busy) {
  $('work').hidden = !busy;
  $('drop').classList.toggle('disabled', busy);
  $('file').disabled = busy;
  $('sample').disabled = busy;
}

/** Starts (or restarts) the worker and loads the weights; resolves with its 'ready' message. */
function startWorker() {
  worker?.terminate();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const backend = $('backend');
  backend.dataset.state = 'starting';
  backend.textContent = 'Starting…';
  workerReady = new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') {
        const name = data.backend === 'webgpu' ? 'WebGPU' : 'CPU';
        backend.dataset.state = data.backend;
        backend.textContent = `${name} · ${data.adapter} · model: ${data.description}`;
        if (data.backend === 'cpu' && data.fallbackReason) backend.title = `CPU fallback: ${data.fallbackReason}`;
        document.body.dataset.backend = data.backend;
        resolve(data);
      } else if (data.type === 'error' && data.phase === 'init') {
        backend.dataset.state = 'failed';
        backend.textContent = 'Could not start';
        reject(new Error(data.message));
      } else {
        onWorkerMessage(data);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message || 'the worker could not start'));
      if (job) fail(`The computation stopped unexpectedly (${event.message || 'worker error'}).`, true);
    };
  });
  const useGpu = params.get('backend') !== 'cpu';
  worker.postMessage({ type: 'init', useGpu, model: $('model').value || params.get('model') || undefined });
  workerReady.catch((error) => showError(`The deblurring engine could not start: ${error.message}`));
  return workerReady;
}

function onWorkerMessage(data) {
  if (!job || data.id !== job.id) return;
  if (data.type === 'progress') {
    $('progress').max = data.total;
    $('progress').value = data.done;
    $('status').textContent = `Tile ${data.done} of ${data.total}`;
  } else if (data.type === 'done') {
    finish(data);
  } else if (data.type === 'error') {
    if (data.cancelled) {
      $('status').textContent = 'Cancelled';
      job = null;
      setBusy(false);
      markSettled();
    } else {
      fail(data.message, data.fatal);
    }
  }
}

function fail(message, restart) {
  job = null;
  setBusy(false);
  showError(friendly(message));
  markSettled();
  // A trapped module (panic, lost GPU device) cannot be used again: start a fresh worker.
  if (restart) startWorker();
}

/** Turns the engine's errors into sentences for people. */
function friendly(message) {
  if (/not a supported image/.test(message)) return 'This file is not a photo this page can read: use a JPEG, PNG or WebP image.';
  if (/damaged or cut short|the file is empty|no pixels/.test(message)) return `This photo could not be read: ${message}.`;
  if (/too large/.test(message)) return `This photo is too large: ${message.replace(/^the image is too large: /, '')}.`;
  if (/device|lost|unreachable|RuntimeError/i.test(message)) return `The GPU stopped working while deblurring (${message}). The engine was restarted; try again.`;
  return `Deblurring failed: ${message}`;
}

async function process(file) {
  if (job) return;
  clearError();
  if (!file) return;
  if (file.type && !/^image\//.test(file.type)) {
    showError(`“${file.name}” is not an image: use a JPEG, PNG or WebP photo.`);
    markSettled();
    return;
  }
  try {
    await workerReady;
  } catch {
    startWorker();
    try { await workerReady; } catch { markSettled(); return; }
  }
  const bytes = await file.arrayBuffer();
  const id = nextJob++;
  const name = (file.name || 'photo').replace(/\.[^.]*$/, '');
  job = { id, name, started: performance.now() };
  $('progress').value = 0;
  $('progress').removeAttribute('max');
  $('status').textContent = 'Reading the photo…';
  setBusy(true);
  showBefore(file);
  worker.postMessage({ type: 'deblur', id, bytes, tileSize: TILE_SIZE, overlap: OVERLAP, maxPixels: MAX_PIXELS }, [bytes]);
}

function showBefore(file) {
  if (job.beforeUrl) URL.revokeObjectURL(job.beforeUrl);
  const before = $('before');
  if (before.src.startsWith('blob:')) URL.revokeObjectURL(before.src);
  before.src = URL.createObjectURL(file);
}

function finish(data) {
  const seconds = data.milliseconds / 1000;
  const name = `${job.name}-deblurred.png`;
  job = null;
  setBusy(false);
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(new Blob([data.png], { type: 'image/png' }));
  $('after').src = resultUrl;
  const download = $('download');
  download.href = resultUrl;
  download.download = name;
  $('summary').textContent = `${data.width}×${data.height} · ${data.tiles} tile${data.tiles > 1 ? 's' : ''} · ${seconds.toFixed(2)} s`;
  $('summary').dataset.seconds = seconds.toFixed(3);
  $('result').hidden = false;
  $('status').textContent = `Done in ${seconds.toFixed(2)} s`;
  view.fit();
  setCompare($('compare').value);
  markSettled();
}

// Before/after comparison: the "after" image is clipped at the slider's position.
function setCompare(percent) {
  $('after').style.clipPath = `inset(0 0 0 ${percent}%)`;
  placeDivider();
}

/** The divider line sits outside the zoomed stage, so it stays 2 screen pixels wide. */
function placeDivider() {
  const image = $('before');
  const divider = $('divider');
  divider.style.left = `${view.x + ($('compare').value / 100) * image.naturalWidth * view.scale}px`;
  divider.style.top = `${view.y}px`;
  divider.style.height = `${image.naturalHeight * view.scale}px`;
}
$('compare').addEventListener('input', (event) => setCompare(event.target.value));

// Zoom and pan of the comparison.
const view = {
  scale: 1, x: 0, y: 0,
  apply() {
    $('stage').style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    placeDivider();
  },
  fit() {
    const image = $('before');
    const box = $('viewport').getBoundingClientRect();
    const width = image.naturalWidth || 1, height = image.naturalHeight || 1;
    // Small photos are enlarged (up to 8×) so that their pixels can be seen.
    this.scale = Math.min(box.width / width, box.height / height, 8) || 1;
    this.x = (box.width - width * this.scale) / 2;
    this.y = (box.height - height * this.scale) / 2;
    $('stage').style.width = `${width}px`;
    $('stage').style.height = `${height}px`;
    this.apply();
  },
  zoom(factor, cx, cy) {
    const box = $('viewport').getBoundingClientRect();
    cx ??= box.width / 2; cy ??= box.height / 2;
    const scale = Math.min(16, Math.max(0.05, this.scale * factor));
    this.x = cx - (cx - this.x) * (scale / this.scale);
    this.y = cy - (cy - this.y) * (scale / this.scale);
    this.scale = scale;
    this.apply();
  },
};
$('before').addEventListener('load', () => view.fit());
$('zoom-in').addEventListener('click', () => view.zoom(1.5));
$('zoom-out').addEventListener('click', () => view.zoom(1 / 1.5));
$('zoom-fit').addEventListener('click', () => view.fit());
$('viewport').addEventListener('wheel', (event) => {
  event.preventDefault();
  const box = $('viewport').getBoundingClientRect();
  view.zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - box.left, event.clientY - box.top);
}, { passive: false });
let drag = null;
$('viewport').addEventListener('pointerdown', (event) => {
  drag = { x: event.clientX - view.x, y: event.clientY - view.y };
  $('viewport').setPointerCapture(event.pointerId);
});
$('viewport').addEventListener('pointermove', (event) => {
  if (!drag) return;
  view.x = event.clientX - drag.x;
  view.y = event.clientY - drag.y;
  view.apply();
});
$('viewport').addEventListener('pointerup', () => { drag = null; });

// Ways in: file picker, drop, paste, sample.
$('file').addEventListener('change', (event) => { process(event.target.files[0]); event.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  process(event.dataTransfer.files[0]);
});
document.addEventListener('paste', (event) => {
  const item = [...event.clipboardData.items].find((i) => i.kind === 'file');
  if (item) process(item.getAsFile());
});
$('sample').addEventListener('click', async () => {
  const response = await fetch('web/samples/text-motion.jpg');
  process(new File([await response.blob()], 'text-motion.jpg', { type: 'image/jpeg' }));
});
$('cancel').addEventListener('click', () => {
  if (job) worker.postMessage({ type: 'cancel', id: job.id });
  $('status').textContent = 'Cancelling…';
});
$('model').addEventListener('change', () => startWorker());

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

await listModels();
startWorker();
registerServiceWorker().catch((error) => console.warn('offline support unavailable:', error));
