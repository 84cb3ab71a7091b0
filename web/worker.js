// The inference worker: owns the wasm module, the device and the weights, so the page stays
// responsive. Messages in: {type: 'init', useGpu, model, threads, warmUpSide}, {type: 'deblur',
// id, bytes, tileSize (none: chosen by memory), overlap, memoryBytes, maxPixels}, {type:
// 'cancel', id}. Messages out: 'ready', 'warm' (on WebGPU: the kernels are compiled and tuned),
// 'progress' (with a band of finished rows when there is one), 'done' (with the size of the wasm
// memory, which never shrinks: it shows that memory stays flat over many photos), 'error'. The
// page sends one photo at a time.
//
// Three builds of the module: pkg/ has WebGPU and the CPU engine on one thread; pkg-threads/ has
// the CPU engine only, on a pool of Web Workers that share its memory; pkg-threads-relaxed/ is
// pkg-threads/ with relaxed SIMD's multiply-add (fused where the CPU has FMA), loaded where the
// browser validates relaxed SIMD (the Debian Chromium 156 of the tests does). Shared memory needs a cross-origin
// isolated page (the server's and the service worker's COOP/COEP headers); where the page is
// not isolated, the CPU path runs on one thread.
let cancelled = new Set();
/** The wasm module in use (pkg/, pkg-threads/ or pkg-threads-relaxed/), once started. */
let engine = null;
/** The warm-up on WebGPU, until it ends: photos wait for it (they would compile the same
 *  kernels). */
let warming = Promise.resolve();

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

/** A module of one function, `f32x4.relaxed_madd` of three constant vectors: valid where the
 *  browser has relaxed SIMD. */
const RELAXED_SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1,
  26, 0, 67, 0, 0, 128, 63, 253, 19, 67, 0, 0, 0, 64, 253, 19, 67, 0, 0, 64, 64, 253, 19, 253, 133, 2, 11]);

/** Loads and instantiates one build of the module. */
async function loadModule(threads) {
  const module = threads <= 1 ? await import('./pkg/deblurgan.js')
    : WebAssembly.validate(RELAXED_SIMD_PROBE) ? await import('./pkg-threads-relaxed/deblurgan.js')
      : await import('./pkg-threads/deblurgan.js');
  await module.default();
  if (threads > 1) await module.initThreadPool(threads);
  return module;
}

/** Threads for the CPU path: `requested` (all cores when not given), where shared memory is
 *  allowed; else one. */
function cpuThreads(requested) {
  if (!self.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(requested ?? navigator.hardwareConcurrency ?? 1, navigator.hardwareConcurrency ?? 1));
}

async function start({ useGpu, model, threads }) {
  const gpu = useGpu ? await probeGpu() : { problem: 'the CPU was chosen' };
  let backend = null;
  if (!gpu.problem) {
    engine = await loadModule(1);
    backend = await engine.initBackend(true);
  }
  if (backend?.backend !== 'webgpu') {
    const fallbackReason = backend?.fallback_reason ?? gpu.problem;
    const cpu = cpuThreads(threads);
    // WebGPU failed inside the module: its CPU path is already set up, on one thread.
    if (!engine || cpu > 1) {
      engine = await loadModule(cpu);
      backend = await engine.initBackend(false);
    }
    backend.fallback_reason = fallbackReason;
  }
  const manifest = await (await fetch(new URL('weights/manifest.json', import.meta.url))).json();
  const entry = manifest.models.find((m) => m.id === model) ?? manifest.models[0];
  const description = engine.loadWeights(await fetchVerified(entry));
  return {
    backend: backend.backend,
    adapter: backend.backend === 'webgpu' ? backend.adapter || gpu.name : backend.adapter,
    threads: backend.threads,
    fallbackReason: backend.fallback_reason,
    model: entry.id,
    description,
  };
}

/** Runs one tile of `side`² (256² when not given) through the network while
 *  no photo is chosen yet, so that the first photo finds its kernels compiled and tuned; burn
 *  keeps the tuning in OPFS, so a later visit skips it. Posts 'warm' with its duration and the
 *  tuned kernels found in the cache before and after it. A failed warm-up is only reported: the
 *  first photo meets the same problem and says so. */
async function warmUp(side) {
  const started = performance.now();
  const tunedBefore = engine.tunedKernels();
  let problem = null;
  try {
    await engine.warmUp(side);
  } catch (error) {
    problem = error?.message ?? String(error);
  }
  self.postMessage({ type: 'warm', milliseconds: performance.now() - started, tunedBefore,
    tunedAfter: engine.tunedKernels(), problem });
}

/** Yields between layers and tiles at most this often: each yield lets messages in (a Cancel). */
const YIELD_EVERY_MS = 50;
let lastYield = 0;
const yielder = new MessageChannel();
let resumeYield = null;
yielder.port1.onmessage = () => resumeYield();

/** Resolves after the event loop has run the messages already queued (a Cancel among them),
 *  if `everyMs` have passed since the last time; else at once. A message to itself, not a
 *  timer: a chain of timers waits at least 4 ms each. */
function yieldNow(everyMs) {
  const now = performance.now();
  if (now - lastYield < everyMs) return Promise.resolve();
  lastYield = now;
  return new Promise((resolve) => {
    resumeYield = resolve;
    yielder.port2.postMessage(null);
  });
}

self.onmessage = async ({ data }) => {
  try {
    switch (data.type) {
      case 'init': {
        const ready = await start(data);
        // Nothing to compile on the CPU; a side of 0 asks for no warm-up.
        const warm = ready.backend === 'webgpu' && data.warmUpSide !== 0;
        self.postMessage({ type: 'ready', ...ready, warming: warm });
        if (warm) warming = warmUp(data.warmUpSide);
        break;
      }
      case 'cancel':
        cancelled.add(data.id);
        break;
      case 'deblur': {
        const started = performance.now();
        await warming;
        if (cancelled.has(data.id)) throw new Error('cancelled');
        const onProgress = (done, total, band) => {
          self.postMessage({ type: 'progress', id: data.id, done, total, band }, band ? [band.rgba.buffer] : []);
          return yieldNow(YIELD_EVERY_MS).then(() => !cancelled.has(data.id));
        };
        const result = await engine.deblur(new Uint8Array(data.bytes), data.tileSize, data.overlap, data.memoryBytes, data.maxPixels, onProgress);
        const png = result.png;
        self.postMessage(
          { type: 'done', id: data.id, png: png.buffer, width: result.width, height: result.height,
            tiles: result.tiles, milliseconds: performance.now() - started, memoryBytes: engine.memoryBytes() },
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
