// Runs the page's benchmark (web/bench.html) in headless Chromium, WebGPU on SwiftShader unless
// CHROMIUM_ARGS says otherwise, and prints its table. Needs a built dist/ (scripts/build-web.sh).
//   node scripts/bench-web.mjs [SIZES=256x256,1280x720] [BACKENDS=webgpu,cpu] [OPTIONS]
// OPTIONS are web/bench.html's: `threads=N` (the CPU path runs on one thread per core, the page
// being served cross-origin isolated; threads=1 is its path where it is not), `tiles=page` (the
// page's own tiles, by memory on the CPU, instead of 256/64), `memory=MiB`, `warmup=side` (on
// WebGPU, a tile of side² run at start, as the page runs 256), `runs=N` (N warm runs, the median
// reported), `layers` (the milliseconds between the worker's progress reports: on the CPU path,
// per layer of each tile), joined with '&'.
// VISITS=N runs the benchmark N times in one browser profile, closing the browser in between:
// the later visits find what the first left in the browser's storage (burn's autotune results).
import { followBenchmark, launch, serve } from '../tests/browser/harness.mjs';

const sizes = process.argv[2] ?? '256x256,1280x720';
const backends = process.argv[3] ?? 'webgpu,cpu';
const options = process.argv[4] ? `&${process.argv[4]}` : '';
const visits = Number(process.env.VISITS ?? 1);
const server = await serve();
let profile;
try {
  for (let visit = 1; visit <= visits; visit++) {
    if (visits > 1) console.log(`== visit ${visit} of ${visits}`);
    const browser = await launch({ profile });
    profile = browser.profile;
    try {
      await browser.page.goto(`${server.origin}/web/bench.html?sizes=${sizes}&backends=${backends}${options}`);
      // Printed as it grows: a large photo on a CPU WebGPU takes minutes.
      await followBenchmark(browser.page);
    } finally {
      await browser.context.close();
    }
  }
} finally {
  await server.stop();
}
