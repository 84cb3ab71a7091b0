// The inference worker: owns the wasm module, the device and the weights, so the page stays
// responsive. Messages in: {type: 'init', useGpu, model}, {type: 'deblur', id, bytes, tileSize,
// overlap, maxPixels}, {type: 'cancel', id}. Messages out: 'ready', 'progress' (with a band of
// finished rows when there is one), 'done' (with the size of the wasm memory, which never
// shrinks: it shows that memory stays flat over many photos), 'error'. The page sends one photo
// at a time.
import init, { initBackend, loadWeights, deblur } from './pkg/deblurgan.js';

let cancelled = new Set();
/** The wasm module's exports: its memory's size is reported with each result. */
let wasm = null;

/** Fetches a file of the bundled weights and checks its size and SHA-256 against the manifest. */
async function fetchVerified(entry) {
  const response = await fetch(new URL(`weights/${entry.file}`, import.meta.url));
  if (!response.ok) throw new Error(`the weights could not be loaded (HTTP ${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length !== entry.bytes) {
    throw new Error(`the weights file is damaged: ${bytes.length} bytes instead of ${entry.bytes}`);
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== entry.sha256) throw new Error('the weights file is damaged: its SHA-256 does not match');
  return bytes;
}

/** Asks for a WebGPU adapter: { problem } when there is none, else { name } (browsers show
 *  their adapters' names here rather than to wgpu). */
async function probeGpu() {
  if (!('gpu' in navigator)) return { problem: 'this browser has no WebGPU' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { problem: 'no WebGPU adapter was granted' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    return { name: name || 'unnamed adapter' };
  } catch (e) {
    return { problem: `WebGPU failed: ${e.message}` };
  }
}

async function start({ useGpu, model }) {
  wasm = await init();
  const gpu = useGpu ? await probeGpu() : { problem: 'the CPU was chosen' };
  const backend = await initBackend(!gpu.problem);
  const manifest = await (await fetch(new URL('weights/manifest.json', import.meta.url))).json();
  const entry = manifest.models.find((m) => m.id === model) ?? manifest.models[0];
  const description = loadWeights(await fetchVerified(entry));
  return {
    backend: backend.backend,
    adapter: backend.backend === 'webgpu' ? backend.adapter || gpu.name : backend.adapter,
    fallbackReason: backend.fallback_reason ?? gpu.problem,
    model: entry.id,
    description,
  };
}

self.onmessage = async ({ data }) => {
  try {
    switch (data.type) {
      case 'init':
        self.postMessage({ type: 'ready', ...(await start(data)) });
        break;
      case 'cancel':
        cancelled.add(data.id);
        break;
      case 'deblur': {
        const started = performance.now();
        const onProgress = (done, total, band) => {
          self.postMessage({ type: 'progress', id: data.id, done, total, band }, band ? [band.rgba.buffer] : []);
          // Yield to the event loop so that a Cancel message can arrive between tiles.
          return new Promise((resolve) => setTimeout(() => resolve(!cancelled.has(data.id)), 0));
        };
        const result = await deblur(new Uint8Array(data.bytes), data.tileSize, data.overlap, data.maxPixels, onProgress);
        const png = result.png;
        self.postMessage(
          { type: 'done', id: data.id, png: png.buffer, width: result.width, height: result.height,
            tiles: result.tiles, milliseconds: performance.now() - started, memoryBytes: wasm.memory.buffer.byteLength },
          [png.buffer],
        );
        cancelled.delete(data.id);
        break;
      }
    }
  } catch (error) {
    cancelled.delete(data.id);
    const message = error?.message ?? String(error);
    // A trap (a Rust panic, a lost device) leaves the module unusable: the page starts a new worker.
    const fatal = error instanceof WebAssembly.RuntimeError;
    self.postMessage({ type: 'error', id: data.id, phase: data.type, message, fatal, cancelled: message === 'cancelled' });
  }
};
