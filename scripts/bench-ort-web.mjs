// onnxruntime-web (webgpu and wasm providers) on the generator the page runs, in the same
// headless Chromium as scripts/bench-web.mjs (WebGPU on SwiftShader unless CHROMIUM_ARGS says
// otherwise), on the same sizes and tile plan: run the two one after the other to compare the
// page with the reference runtime. Installs onnxruntime-web under the build cache (not into the
// project) and exports the weights with the release trainer (built if missing).
//   node scripts/bench-ort-web.mjs [SIZES=256x256,1280x720] [PROVIDERS=webgpu,wasm] [WEIGHTS] [THREADS]
// The wasm provider runs on one thread per core (the page is served cross-origin isolated), or
// on THREADS.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, followBenchmark, launch, serve } from '../tests/browser/harness.mjs';

const VERSION = '1.30.0';
const sizes = process.argv[2] ?? '256x256,1280x720';
const providers = process.argv[3] ?? 'webgpu,wasm';
const weights = process.argv[4] || join(ROOT, 'web', 'weights', 'deblurgan.bpk');
const threads = process.argv[5] ? `&threads=${process.argv[5]}` : '';

const cache = join(process.env.HOME, '.cache', 'deblurgan', 'ort-web');
const ortDist = join(cache, 'node_modules', 'onnxruntime-web', 'dist');
if (!existsSync(join(cache, 'node_modules', 'onnxruntime-web', 'package.json'))) {
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', cache, `onnxruntime-web@${VERSION}`], { stdio: 'inherit' });
}
const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache', 'deblurgan', 'target');
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'native-trainer', '--bin', 'native-trainer'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: target } });

const root = mkdtempSync(join(tmpdir(), 'deblurgan-ort-web-'));
cpSync(join(ROOT, 'scripts', 'bench-ort-web'), root, { recursive: true });
cpSync(ortDist, join(root, 'ort'), { recursive: true, filter: (path) => !path.endsWith('.map') });
execFileSync(join(target, 'release', 'native-trainer'), ['export', '--from', weights, '-o', join(root, 'model.onnx')], { stdio: 'inherit' });

const server = await serve(root);
const browser = await launch();
try {
  await browser.page.goto(`${server.origin}/index.html?sizes=${sizes}&providers=${providers}${threads}`);
  // Printed as it grows: a large photo on a CPU WebGPU takes minutes.
  await followBenchmark(browser.page);
} finally {
  await browser.context.close();
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
