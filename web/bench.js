// Benchmark: cold and warm inference times per backend and size, with the adapter's name.
// Results are printed on the page and kept in window.benchmark for scripts.
const params = new URLSearchParams(location.search);
const sizes = (params.get('sizes') ?? '256x256,1280x720').split(',').map((s) => s.split('x').map(Number));
const backends = (params.get('backends') ?? 'webgpu,cpu').split(',');
// Tiles of 256/64 (the plan the reference benchmarks use) unless `tiles=page`: the page's own
// choice, by memory on the CPU (its default budget, or `memory` MiB).
const tileSize = params.get('tiles') === 'page' ? undefined : 256;
const memoryBytes = params.has('memory') ? Number(params.get('memory')) * 2 ** 20 : undefined;
// No warm-up unless `warmup=side` (WebGPU: a tile of side² run at start, as the page does with
// 256), so that "cold" is the first photo after the engine starts.
const warmUpSide = params.has('warmup') ? Number(params.get('warmup')) : 0;
// `runs=N` warm runs (the median is reported; 1 unless given); `layers` also prints the
// milliseconds between the worker's progress reports of the warm runs (medians per step): on
// the CPU path one per layer of each tile, to see where a tile's time goes.
const warmRuns = Math.max(1, Number(params.get('runs') ?? 1));
const perLayer = params.has('layers');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const log = document.getElementById('log');
const rows = [];
const print = (line) => { log.textContent = (log.textContent === 'running…' ? '' : log.textContent) + line + '\n'; };

async function photoOfSize(width, height) {
  const bitmap = await createImageBitmap(await (await fetch('samples/text-motion.jpg')).blob());
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, width, height);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

function engine(backend) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let pending = null;
  let warmed = null;
  let progressTimes = [];
  const warm = new Promise((resolve) => { warmed = resolve; });
  worker.onmessage = ({ data }) => {
    if (data.type === 'progress') return progressTimes.push(performance.now());
    if (data.type === 'warm') return warmed(data);
    const { resolve, reject } = pending;
    pending = null;
    data.type === 'error' ? reject(new Error(data.message)) : resolve(data);
  };
  const call = (message, transfer = []) => new Promise((resolve, reject) => {
    pending = { resolve, reject };
    progressTimes = [performance.now()];
    worker.postMessage(message, transfer);
  });
  return {
    ready: call({ type: 'init', useGpu: backend === 'webgpu', model: params.get('model') ?? undefined,
      threads: params.has('threads') ? Number(params.get('threads')) : undefined, warmUpSide }),
    warm,
    deblur: (bytes) => call({ type: 'deblur', id: 1, bytes: bytes.slice().buffer, tileSize, overlap: 64, memoryBytes, maxPixels: 48e6 }),
    /** Milliseconds between the last call's start and its progress reports, one after the other. */
    steps: () => progressTimes.slice(1).map((time, i) => time - progressTimes[i]),
    close: () => worker.terminate(),
  };
}

for (const backend of backends) {
  const e = engine(backend);
  let info;
  try {
    const started = performance.now();
    info = await e.ready;
    print(`${backend}: ${info.backend} · ${info.adapter} · ${info.description} (start ${(performance.now() - started).toFixed(0)} ms)`);
    if (info.warming) {
      const warm = await e.warm;
      info.warmUp = { ms: Math.round(warm.milliseconds), tunedBefore: warm.tunedBefore, tunedAfter: warm.tunedAfter };
      print(`  warm-up on ${warmUpSide}²: ${info.warmUp.ms} ms, tuned kernels in the cache ${warm.tunedBefore} before, ${warm.tunedAfter} after${warm.problem ? ` (failed: ${warm.problem})` : ''}`);
    }
  } catch (error) {
    print(`${backend}: unavailable (${error.message})`);
    continue;
  }
  for (const [width, height] of sizes) {
    const bytes = await photoOfSize(width, height);
    const cold = await e.deblur(bytes);
    const warmTimes = [];
    const steps = [];
    let warm;
    for (let run = 0; run < warmRuns; run++) {
      warm = await e.deblur(bytes);
      warmTimes.push(warm.milliseconds);
      steps.push(e.steps());
    }
    warm.milliseconds = median(warmTimes);
    const row = { requested: backend, backend: info.backend, adapter: info.adapter, model: info.description,
      size: `${width}x${height}`, tiles: warm.tiles, coldMs: Math.round(cold.milliseconds), warmMs: Math.round(warm.milliseconds),
      warmUp: info.warmUp };
    rows.push(row);
    print(`  ${row.size}: ${row.tiles} tile(s), cold ${row.coldMs} ms, warm ${row.warmMs} ms` +
      (warmRuns > 1 ? ` (median of ${warmRuns}: ${warmTimes.map(Math.round).join(', ')})` : ''));
    if (perLayer) {
      row.stepMs = steps[0].map((_, i) => median(steps.map((run) => run[i] ?? 0)));
      print(`  steps (ms): ${row.stepMs.map((ms) => ms.toFixed(1)).join(' ')}`);
    }
  }
  e.close();
}
window.benchmark = rows;
print('done');
