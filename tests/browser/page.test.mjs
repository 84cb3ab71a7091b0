// The page in a real browser: Debian's Chromium, WebGPU on SwiftShader (a CPU implementation).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deblurFile, deblurNatively, DIST, FIXTURES, launch, open, pngSize, psnr, screenshot, serve, servePage, tempFile, testPhoto } from './harness.mjs';

const SMALL = join(FIXTURES, 'small-blurred.png');

describe('the page on WebGPU', () => {
  let server, browser, page;
  servePage({}, (started) => ({ server, browser, page } = started));

  test('starts on WebGPU and names the adapter', async () => {
    assert.equal(await open(page, server.origin), 'webgpu', browser.console.join('\n'));
    const text = await page.locator('#backend').textContent();
    assert.match(text, /^WebGPU · .+ · model: /);
    await screenshot(page, 'webgpu-start');
  });

  test('deblurs a photo as the native deblur command does', async () => {
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^64×48 · 1 tile · [\d.]+ s$/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'small-blurred-deblurred.png');
    const inBrowser = readFileSync(await download.path());
    assert.deepEqual(pngSize(inBrowser), { width: 64, height: 48 });
    const native = deblurNatively(SMALL);
    const quality = await psnr(page, inBrowser, native);
    console.log(`browser (WebGPU) vs native (CPU engine): PSNR ${quality.toFixed(2)} dB`);
    assert.ok(quality >= 45, `PSNR ${quality} dB`);
    // Where the bundled weights change this photo natively, the page changed it too (not a
    // pass-through). Weights that return their input (the bundled ones of 2026-11-25) leave
    // nothing to tell apart beyond the comparison with the native output above.
    const nativeChange = await psnr(page, native, readFileSync(SMALL));
    if (nativeChange < 60) assert.ok(await psnr(page, inBrowser, readFileSync(SMALL)) < 60);
    await screenshot(page, 'webgpu-result');
  });

  test('runs a photo whole where its largest buffer fits what the device binds', async () => {
    // 32×300 would be 2 tiles of 256 rows; its largest buffer (2.5 MB) is far below any
    // adapter's binding limit (at least 128 MiB) and the page's memory budget.
    await deblurFile(page, tempFile('tall.png', testPhoto(32, 300, 7)));
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^32×300 · 1 tile · /);
  });

  test('the compare slider reveals before and after', async () => {
    await page.locator('#compare').fill('20');
    assert.equal(await page.locator('#after').evaluate((img) => img.style.clipPath), 'inset(0px 0px 0px 20%)');
    await page.locator('#compare').fill('80');
    const image = await page.locator('#before').boundingBox();
    const divider = await page.locator('#divider').boundingBox();
    const at = (divider.x + divider.width / 2 - image.x) / image.width;
    assert.ok(Math.abs(at - 0.8) < 0.02, `divider at ${at} of the photo`);
    assert.ok(divider.width <= 3, `divider ${divider.width} px wide`);
    await page.click('#zoom-in');
    assert.match(await page.locator('#stage').evaluate((stage) => stage.style.transform), /scale\(/);
    await screenshot(page, 'webgpu-compare');
  });

  test('bad files show a clear error and the page keeps working', async () => {
    await deblurFile(page, join(FIXTURES, 'not-a-photo.jpg'));
    assert.match(await page.locator('#error').textContent(), /not a photo this page can read/);
    await screenshot(page, 'error-not-a-photo');
    await deblurFile(page, join(FIXTURES, 'huge-header.png'));
    assert.match(await page.locator('#error').textContent(), /too large: 20000×20000 is 400\.0 megapixels/);
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true);
    assert.match(await page.locator('#summary').textContent(), /^64×48/);
  });

  test('works offline once loaded', async () => {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await server.stop();
    await page.reload();
    assert.equal(await open(page, server.origin), 'webgpu');
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^64×48/);
    await screenshot(page, 'offline-result');
  });

  test('no request ever leaves the page origin', () => {
    const foreign = browser.requests.filter((url) => !url.startsWith(server.origin) && !/^(blob|data):/.test(url));
    assert.deepEqual(foreign, []);
    assert.ok(browser.requests.some((url) => url.endsWith('.wasm')));
  });
});

describe('the page on WebGPU, visited twice', () => {
  let server, browser;
  before(async () => {
    server = await serve();
  });
  after(async () => {
    await browser?.context.close();
    await server?.stop();
  });

  /** What the page says of its GPU warm-up once it ended: `{ text, tunedBefore }`. */
  async function warmedUp(page) {
    await page.waitForFunction(() => document.getElementById('backend').dataset.warm === 'done', null, { timeout: 300_000 });
    return page.locator('#backend').evaluate((element) => ({ text: element.textContent, tunedBefore: Number(element.dataset.tunedBefore) }));
  }

  test('warms the kernels up before a photo is chosen, and a second visit finds them tuned', async () => {
    // A small warm-up tile (the page's own is 256²: minutes on SwiftShader), the same code path.
    browser = await launch();
    assert.equal(await open(browser.page, server.origin, '?warmup=64'), 'webgpu', browser.console.join('\n'));
    assert.match(await browser.page.locator('#backend').getAttribute('data-warm'), /^(warming|done)$/);
    const first = await warmedUp(browser.page);
    assert.equal(first.tunedBefore, 0, 'a fresh profile has no tuned kernels');
    assert.doesNotMatch(first.text, /preparing/);
    await deblurFile(browser.page, SMALL);
    assert.equal(await browser.page.locator('#error').isHidden(), true, await browser.page.locator('#error').textContent());
    await browser.context.close();

    // The same browser profile again: burn's autotune results come back from the origin's storage.
    browser = await launch({ profile: browser.profile });
    assert.equal(await open(browser.page, server.origin, '?warmup=64'), 'webgpu', browser.console.join('\n'));
    const second = await warmedUp(browser.page);
    assert.ok(second.tunedBefore > 0, `tuned kernels found on the second visit: ${second.tunedBefore}\n${browser.console.join('\n')}`);
    await deblurFile(browser.page, SMALL);
    assert.equal(await browser.page.locator('#error').isHidden(), true, await browser.page.locator('#error').textContent());
    assert.match(await browser.page.locator('#summary').textContent(), /^64×48 · 1 tile/);
  });
});

describe('the page without WebGPU', () => {
  let server, browser;
  servePage({ webgpu: false }, (started) => ({ server, browser } = started));

  test('falls back to the CPU and still deblurs, on every core', async () => {
    const { page } = browser;
    assert.equal(await open(page, server.origin), 'cpu', browser.console.join('\n'));
    // The server sends COOP/COEP: the CPU path runs on a pool of one thread per core.
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.match(await page.locator('#backend').textContent(), new RegExp(`^CPU · WebAssembly \\(CPU engine, ${threadsText(cores)}\\) · model: `));
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^64×48 · 1 tile/);
    await screenshot(page, 'cpu-result');
    // The page's CPU engine runs its convolutions on its own SIMD128 kernel where the native
    // command runs gemm's: the same function, rounded otherwise.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const quality = await psnr(page, readFileSync(await download.path()), deblurNatively(SMALL));
    console.log(`browser (CPU) vs native (CPU engine): PSNR ${quality.toFixed(2)} dB`);
    assert.ok(quality >= 45, `PSNR ${quality} dB`);
    // Within the CPU path's memory a photo runs whole, where tiles of 256 would compute 300×200
    // in two.
    await deblurFile(page, tempFile('wider.png', testPhoto(300, 200, 3)));
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^300×200 · 1 tile/);
  });

  test('Cancel stops a photo computed whole, between layers, and the next one still works', async () => {
    const { page } = browser;
    // The sample (588×365) fits the CPU path's memory: one tile, whose progress moves layer by
    // layer.
    await page.click('#sample');
    // Wait for this photo's own progress (the previous photo's "Done" may still be shown).
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Deblurring…'
      && Number(document.getElementById('progress').value) > 0, null, { timeout: 120_000, polling: 10 });
    await page.click('#cancel');
    await page.waitForFunction(() => document.getElementById('work').hidden, null, { timeout: 120_000 });
    assert.equal(await page.locator('#status').textContent(), 'Cancelled: text-motion.jpg');
    assert.equal(await page.locator('#queue li[data-state="cancelled"] .actions button').count(), 0, 'nothing to download');
    assert.match(await page.locator('#summary').textContent(), /^300×200/, 'the previous result stays');
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true);
    assert.match(await page.locator('#summary').textContent(), /^64×48 · 1 tile/);
  });
});

describe('the page where the host sends no COOP/COEP (CPU)', () => {
  let server, browser;
  before(async () => {
    server = await serve(DIST, { isolated: false });
    browser = await launch({ webgpu: false });
  });
  after(async () => {
    await browser?.context.close();
    await server?.stop();
  });

  /** Deblurs the small photo and returns the PNG the page offers for download. */
  async function deblurred(page) {
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    return readFileSync(await download.path());
  }

  test('runs on one thread first, then on every core once the service worker isolates it, offline too', async () => {
    const { page } = browser;
    assert.equal(await open(page, server.origin), 'cpu', browser.console.join('\n'));
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.match(await page.locator('#backend').textContent(), /^CPU · WebAssembly \(CPU engine, one thread\) · /);
    const oneThread = await deblurred(page);

    // The service worker adds the headers to what it serves: from the next load on, and offline.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await server.stop();
    await page.reload();
    assert.equal(await open(page, server.origin), 'cpu', browser.console.join('\n'));
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.match(await page.locator('#backend').textContent(), new RegExp(`^CPU · WebAssembly \\(CPU engine, ${threadsText(cores)}\\) · `));
    const threads = await deblurred(page);
    assert.deepEqual(pngSize(threads), { width: 64, height: 48 });
    const quality = await psnr(page, threads, oneThread);
    console.log(`CPU path, ${cores} threads vs one: PSNR ${quality} dB`);
    assert.ok(quality >= 60, `PSNR ${quality} dB`);
    await screenshot(page, 'cpu-threads-offline');
  });
});

/** How the page names the CPU path's pool for `cores` cores: with several, Chromium loads the
 *  build with relaxed SIMD. */
function threadsText(cores) {
  return cores > 1 ? `${cores} threads, relaxed SIMD` : 'one thread';
}

describe('a new version', () => {
  let server, browser, root;
  before(async () => {
    // A deployment of its own, so that it can be changed under the running page.
    root = mkdtempSync(join(tmpdir(), 'deblurgan-deploy-'));
    cpSync(DIST, root, { recursive: true });
    server = await serve(root);
    browser = await launch();
  });
  after(async () => {
    await browser?.context.close();
    await server?.stop();
  });

  test('shows an update notice once deployed, and Reload switches to it', async () => {
    const { page } = browser;
    await open(page, server.origin);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    assert.equal(await page.locator('#update').isHidden(), true);
    const worker = join(root, 'sw.js');
    const deployed = readFileSync(worker, 'utf8').replace(/const VERSION = '([0-9a-f]+)'/, "const VERSION = '$1-next'");
    writeFileSync(worker, deployed);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.locator('#update').waitFor({ state: 'visible', timeout: 60_000 });
    await screenshot(page, 'update-notice');
    await Promise.all([page.waitForEvent('load'), page.click('#reload')]);
    const version = await page.evaluate(async () => (await caches.keys()).join(','));
    assert.match(version, /-next$/);
  });
});
