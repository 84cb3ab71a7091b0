// The photos of a visit: a queue run one photo at a time through the engine (the worker never
// holds more than one photo, so memory stays flat however many are added), per-photo progress,
// cancel one or all, and the list of results with thumbnails.
import { cancel as cancelRunning, deblur, progressText } from './engine.js';

const $ = (id) => document.getElementById(id);

/** Every photo added: { key, file, name, state: 'waiting' | 'running' | 'done' | 'failed' |
 *  'cancelled', done, total, message, result: { png, width, height, tiles, seconds, memoryBytes
 *  (the worker's wasm memory after it) }, thumbUrl }. */
export const items = [];
let nextKey = 1;
let pumping = false;
let hooks = {};

/** `onStart(item)`, `onProgress(item, progress)`, `onSettled(item)`, `onShow(item)`,
 *  `onDownload(item)`, `onChange()`. */
export function configureQueue(callbacks) {
  hooks = callbacks;
}

export const waiting = () => items.filter((item) => item.state === 'waiting' || item.state === 'running');
export const finished = () => items.filter((item) => item.state === 'done');

/** Adds photos to the end of the queue and starts it if idle. */
export function addPhotos(files) {
  for (const file of files) {
    const item = { key: nextKey++, file, name: file.name || 'photo', state: 'waiting', done: 0, total: 0 };
    items.push(item);
    $('queue').append(item.element = element(item));
    if (file.type && !/^image\//.test(file.type)) {
      fail(item, `“${item.name}” is not an image: use a JPEG, PNG or WebP photo.`);
    } else {
      render(item);
    }
  }
  hooks.onChange?.();
  pump();
}

/** Cancels a waiting photo at once, the running one after its current tile. */
export function cancelItem(item) {
  if (item.state === 'waiting') {
    item.state = 'cancelled';
    render(item);
    hooks.onSettled?.(item);
    hooks.onChange?.();
  } else if (item.state === 'running') {
    item.cancelRequested = true;
    render(item);
    cancelRunning();
  }
}

export function cancelAll() {
  // The waiting ones first, so that the queue does not start the next one after the running.
  for (const item of items.filter((i) => i.state === 'waiting')) cancelItem(item);
  for (const item of items.filter((i) => i.state === 'running')) cancelItem(item);
}

/** Removes the settled photos from the list and frees what they held. */
export function clearSettled() {
  for (const item of [...items]) {
    if (item.state === 'waiting' || item.state === 'running') continue;
    if (item.thumbUrl) URL.revokeObjectURL(item.thumbUrl);
    item.element.remove();
    items.splice(items.indexOf(item), 1);
  }
  hooks.onChange?.();
}

async function pump() {
  if (pumping) return;
  pumping = true;
  for (let item; (item = items.find((i) => i.state === 'waiting'));) await run(item);
  pumping = false;
  hooks.onChange?.();
}

/** Ends `run` as cancelled where a Cancel was pressed for `item`. */
function stopIfCancelled(item) {
  if (item.cancelRequested) throw Object.assign(new Error('cancelled'), { cancelled: true });
}

async function run(item) {
  item.state = 'running';
  render(item);
  hooks.onStart?.(item);
  try {
    // The bytes are read only now: waiting photos stay files, not memory.
    const bytes = await item.file.arrayBuffer();
    stopIfCancelled(item);
    const data = await deblur(bytes, (progress) => {
      if (item.cancelRequested) cancelRunning();
      item.done = progress.done;
      item.total = progress.total;
      render(item);
      hooks.onProgress?.(item, progress);
    });
    // A Cancel pressed while the last tile was finishing still wins: the person saw it running.
    stopIfCancelled(item);
    item.result = {
      png: new Blob([data.png], { type: 'image/png' }),
      width: data.width, height: data.height, tiles: data.tiles, seconds: data.milliseconds / 1000,
      memoryBytes: data.memoryBytes,
    };
    item.state = 'done';
    item.thumbUrl = await thumbnail(item.result).catch(() => null);
  } catch (error) {
    if (error.cancelled) item.state = 'cancelled';
    else return fail(item, friendly(error.message));
  }
  render(item);
  hooks.onSettled?.(item);
  hooks.onChange?.();
}

function fail(item, message) {
  item.state = 'failed';
  item.message = message;
  render(item);
  hooks.onSettled?.(item);
  hooks.onChange?.();
}

/** Turns the engine's errors into sentences for people. */
export function friendly(message) {
  if (/not a supported image/.test(message)) return 'This file is not a photo this page can read: use a JPEG, PNG or WebP image.';
  if (/damaged or cut short|the file is empty|no pixels/.test(message)) return `This photo could not be read: ${message}.`;
  if (/too large/.test(message)) return `This photo is too large: ${message.replace(/^the image is too large: /, '')}.`;
  if (/device|lost|unreachable|RuntimeError|stopped unexpectedly/i.test(message)) return `The GPU stopped working while deblurring (${message}). The engine was restarted; try again.`;
  return `Deblurring failed: ${message}`;
}

/** A small PNG of the result for the list (at most 96 px on its longer side). */
async function thumbnail({ png, width, height }) {
  const scale = Math.min(1, 96 / Math.max(width, height));
  const [w, h] = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  const bitmap = await createImageBitmap(png, { resizeWidth: w, resizeHeight: h, resizeQuality: 'medium' });
  const canvas = new OffscreenCanvas(w, h);
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  bitmap.close();
  return URL.createObjectURL(await canvas.convertToBlob({ type: 'image/png' }));
}

function button(text, name, onClick, secondary = true) {
  const b = document.createElement('button');
  b.type = 'button';
  if (secondary) b.className = 'secondary';
  b.append(text);
  const hidden = document.createElement('span');
  hidden.className = 'visually-hidden';
  hidden.textContent = ` ${name}`;
  b.append(hidden);
  b.addEventListener('click', onClick);
  return b;
}

function element(item) {
  const li = document.createElement('li');
  li.className = 'item';
  li.innerHTML = '<img class="thumb" alt="" hidden><span class="placeholder" aria-hidden="true"></span>'
    + '<div class="info"><span class="name"></span><span class="state"></span><progress max="1" value="0"></progress></div>'
    + '<div class="actions"></div>';
  li.querySelector('.name').textContent = item.name;
  li.querySelector('progress').setAttribute('aria-label', `Progress of ${item.name}`);
  return li;
}

function render(item) {
  const li = item.element;
  li.dataset.state = item.state;
  const progress = li.querySelector('progress');
  progress.hidden = item.state !== 'running' && item.state !== 'waiting';
  if (item.total) {
    progress.max = item.total;
    progress.value = item.done;
  }
  const state = {
    waiting: 'Waiting',
    running: item.cancelRequested ? 'Cancelling…' : item.total ? progressText(item) : 'Reading the photo…',
    done: item.result && `${item.result.width}×${item.result.height} · ${item.result.seconds.toFixed(2)} s`,
    failed: item.message,
    cancelled: 'Cancelled',
  }[item.state];
  li.querySelector('.state').textContent = state;
  if (item.thumbUrl) {
    li.querySelector('.thumb').src = item.thumbUrl;
    li.querySelector('.thumb').hidden = false;
    li.querySelector('.placeholder').hidden = true;
  }
  const actions = li.querySelector('.actions');
  const wanted = item.state === 'done' ? 'done' : item.state === 'running' || item.state === 'waiting' ? 'busy' : 'none';
  if (actions.dataset.kind === wanted) return;
  actions.dataset.kind = wanted;
  actions.replaceChildren();
  if (wanted === 'busy') actions.append(button('Cancel', item.name, () => cancelItem(item)));
  if (wanted === 'done') {
    actions.append(
      button('Show', item.name, () => hooks.onShow?.(item)),
      button('Download', item.name, () => hooks.onDownload?.(item), false),
    );
  }
}
