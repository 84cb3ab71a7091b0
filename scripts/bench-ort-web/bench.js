// onnxruntime-web on the generator exported by `native-trainer export --onnx` (model.onnx), on
// the work the page's benchmark (web/bench.html) times: the same sizes and tile plan (tiles of
// 256 overlapping by 64, the spans of src/tiling.rs), cold (first run after the session is
// made) and warm. The network only: no photo decoding, blending or encoding. Results are
// printed and kept in window.benchmark.
import * as ort from './ort/ort.all.min.mjs';

const params = new URLSearchParams(location.search);
const sizes = (params.get('sizes') ?? '256x256,1280x720').split(',').map((s) => s.split('x').map(Number));
const providers = (params.get('providers') ?? 'webgpu,wasm').split(',');
const [TILE, OVERLAP] = [256, 64];
const log = document.getElementById('log');
const print = (line) => { log.textContent = (log.textContent === 'running…' ? '' : log.textContent) + line + '\n'; };

ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
// One thread per core where the page is cross-origin isolated (as the page's own CPU path), or
// `threads` of them; one where it is not.
const threads = crossOriginIsolated ? Number(params.get('threads') ?? navigator.hardwareConcurrency) : 1;
ort.env.wasm.numThreads = threads;

/** Start and length of the tiles along one axis (src/tiling.rs `spans`). */
function spans(length) {
  if (TILE >= length) return [[0, length]];
  const count = Math.ceil((length - OVERLAP) / (TILE - OVERLAP));
  return Array.from({ length: count }, (_, i) => [Math.floor((i * (length - TILE) + Math.floor((count - 1) / 2)) / (count - 1)), TILE]);
}

/** The side the generator is given (src/tiling.rs `network_side`). */
const networkSide = (side) => Math.ceil(Math.max(side, 8) / 4) * 4;

async function run(session, width, height) {
  const started = performance.now();
  let tiles = 0;
  for (const [, rowHeight] of spans(height)) {
    for (const [, columnWidth] of spans(width)) {
      const [h, w] = [networkSide(rowHeight), networkSide(columnWidth)];
      const values = Float32Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i * 0.01) * 0.8);
      const outputs = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', values, [1, 3, h, w]) });
      await outputs[session.outputNames[0]].getData();
      tiles += 1;
    }
  }
  return { tiles, milliseconds: performance.now() - started };
}

const rows = [];
for (const provider of providers) {
  let session;
  try {
    const started = performance.now();
    session = await ort.InferenceSession.create('./model.onnx', { executionProviders: [provider] });
    print(`${provider}: onnxruntime-web ${ort.env.versions?.web ?? ''}${provider === 'wasm' ? `, ${threads} thread(s)` : ''} (session ${(performance.now() - started).toFixed(0)} ms)`);
  } catch (error) {
    print(`${provider}: unavailable (${error.message})`);
    continue;
  }
  for (const [width, height] of sizes) {
    const cold = await run(session, width, height);
    const warm = await run(session, width, height);
    const row = { provider, size: `${width}x${height}`, tiles: warm.tiles, coldMs: Math.round(cold.milliseconds), warmMs: Math.round(warm.milliseconds) };
    rows.push(row);
    print(`  ${row.size}: ${row.tiles} tile(s), cold ${row.coldMs} ms, warm ${row.warmMs} ms`);
  }
  await session.release();
}
window.benchmark = rows;
print('done');
