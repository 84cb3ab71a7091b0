// The deblurring engine seen from the page: starts the inference worker (worker.js), runs one
// photo at a time through it and turns its messages into promises and progress callbacks.

/** Pixels shared by neighbouring tiles. The worker chooses the tiles unless the page gives a
 *  side: the whole photo when the network's working memory for it fits a budget (512 MiB
 *  unless the page gives one: `deblur` in src/wasm.rs), else the largest tiles that fit, on
 *  WebGPU also within the largest buffer the device binds. */
const OVERLAP = 64;
/** Largest photo accepted: 48 megapixels. */
const MAX_PIXELS = 48_000_000;

let worker = null;
let ready = null;
let nextId = 1;
/** The photo in the worker: { id, resolve, reject, onProgress }. */
let running = null;
let onStatus = () => {};

/** `listener({ state: 'starting' | 'ready' | 'warm' | 'failed', ...ready or warm message, or
 *  { message } })`: 'warm' follows a 'ready' whose `warming` is true (WebGPU), once the kernels
 *  are compiled and tuned. */
export function onEngineStatus(listener) {
  onStatus = listener;
}

/** Starts (or restarts) the worker and loads the weights; resolves with its 'ready' message.
 *  `memoryBytes` replaces the memory budget, `tileSize` the worker's choice of tiles (squares
 *  of that side). On WebGPU the worker then warms the kernels up on a tile of `warmUpSide`²
 *  (256² when not given; 0: none). */
export function startEngine({ useGpu, model, memoryBytes, tileSize, warmUpSide }) {
  worker?.terminate();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  onStatus({ state: 'starting' });
  ready = new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') {
        onStatus({ state: 'ready', ...data });
        resolve(data);
      } else if (data.type === 'warm') {
        onStatus({ state: 'warm', ...data });
      } else if (data.type === 'error' && data.phase === 'init') {
        onStatus({ state: 'failed', message: data.message });
        reject(new Error(data.message));
      } else {
        onMessage(data);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const message = event.message || 'the worker could not start';
      reject(new Error(message));
      settle(running, Object.assign(new Error(`the computation stopped unexpectedly (${message})`), { fatal: true }));
    };
  });
  ready.catch(() => {});
  worker.postMessage({ type: 'init', useGpu, model, warmUpSide });
  startEngine.options = { useGpu, model, memoryBytes, tileSize, warmUpSide };
  return ready;
}

function onMessage(data) {
  if (!running || data.id !== running.id) return;
  if (data.type === 'progress') {
    running.onProgress(data);
  } else if (data.type === 'done') {
    settle(running, null, data);
  } else if (data.type === 'error') {
    settle(running, Object.assign(new Error(data.message), { cancelled: data.cancelled, fatal: data.fatal }));
  }
}

function settle(job, error, result) {
  if (!job) return;
  running = null;
  if (error) job.reject(error);
  else job.resolve(result);
  // A trapped module (panic, lost GPU device) cannot be used again: start a fresh worker.
  if (error?.fatal) startEngine(startEngine.options);
}

/** What the page says of a photo's progress (`done` of `total` tiles, fractional within a
 *  tile): the tile being computed, when there are several. */
export function progressText({ done, total }) {
  return total > 1 ? `Tile ${Math.min(Math.floor(done) + 1, total)} of ${total}` : 'Deblurring…';
}

/** Deblurs one photo's bytes. `onProgress({ done, total, band })` follows it between layers
 *  (on the CPU) and tiles.
 *  Resolves with `{ png, width, height, tiles, milliseconds }`; rejects with an Error whose
 *  `cancelled` says that cancel() stopped it. */
export async function deblur(bytes, onProgress) {
  if (running) throw new Error('the engine is busy');
  try {
    await ready;
  } catch {
    await startEngine(startEngine.options);
  }
  return new Promise((resolve, reject) => {
    running = { id: nextId++, resolve, reject, onProgress };
    worker.postMessage(
      { type: 'deblur', id: running.id, bytes, overlap: OVERLAP, maxPixels: MAX_PIXELS,
        memoryBytes: startEngine.options.memoryBytes, tileSize: startEngine.options.tileSize },
      [bytes],
    );
  });
}

/** Asks the worker to stop the photo it runs, after the current layer (CPU) or tile (WebGPU). */
export function cancel() {
  if (running) worker.postMessage({ type: 'cancel', id: running.id });
}
