// Several photos at once: ten dropped together are computed one at a time and downloaded as one
// ZIP made in the page, with the server stopped; cancel one or all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { unzipSync } from 'fflate';
import { open, pngSize, screenshotSizes, servePage, testPhoto } from './harness.mjs';

/** Drops files (name → PNG bytes) on the drop zone, as a person dragging them there would. */
async function dropFiles(page, files) {
  await page.evaluate((files) => {
    const transfer = new DataTransfer();
    for (const [name, base64] of files) {
      transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));
    }
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, files.map(([name, bytes]) => [name, Buffer.from(bytes).toString('base64')]));
}

/** Counts, from now on, the most photos ever shown as running at once. */
async function watchRunning(page) {
  await page.evaluate(() => {
    window.mostRunning = 0;
    new MutationObserver(() => {
      window.mostRunning = Math.max(window.mostRunning, document.querySelectorAll('#queue li[data-state="running"]').length);
    }).observe(document.getElementById('queue'), { subtree: true, childList: true, attributes: true });
  });
}

const states = (page) => page.$$eval('#queue li', (items) => items.map((li) => li.dataset.state));
const settledCount = (page) => page.evaluate(() => Number(document.body.dataset.settled ?? 0));

describe('several photos (WebGPU)', () => {
  let server, browser, page;
  servePage({}, (started) => ({ server, browser, page } = started));

  test('ten small photos dropped at once, offline: all deblurred, one at a time, one ZIP', async () => {
    assert.equal(await open(page, server.origin), 'webgpu', browser.console.join('\n'));
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await server.stop();
    await page.reload();
    assert.equal(await open(page, server.origin), 'webgpu');

    await watchRunning(page);
    const photos = Array.from({ length: 10 }, (_, i) => [`photo-${i}.png`, testPhoto(64 + 8 * (i % 3), 48, i)]);
    const start = await settledCount(page);
    await dropFiles(page, photos);
    await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) >= n + 10, start, { timeout: 600_000 });
    assert.deepEqual(await states(page), Array(10).fill('done'), await page.locator('#error').textContent());
    assert.equal(await page.evaluate(() => window.mostRunning), 1, 'one photo at a time in the worker');
    // The worker's wasm memory (it only ever grows) stays as it was once each photo size has
    // been seen: nothing of the earlier photos is kept.
    const memory = await page.evaluate(async () => (await import('./web/queue.js')).items.map((item) => item.result.memoryBytes));
    console.log(`wasm memory after each photo (MiB): ${memory.map((bytes) => (bytes / 2 ** 20).toFixed(1)).join(', ')}`);
    assert.equal(memory.length, 10);
    assert.ok(memory.at(-1) <= memory[2], `wasm memory grew from ${memory[2]} to ${memory.at(-1)} bytes over photos 3-10`);
    assert.equal(await page.locator('#queue-summary').textContent(), '10 of 10 done');
    const thumbs = await page.$$eval('#queue li .thumb', (images) => images.map((img) => !img.hidden && img.complete && img.naturalWidth > 0));
    assert.deepEqual(thumbs, Array(10).fill(true), 'every result has a thumbnail');
    await screenshotSizes(page, 'queue');

    const [zipDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
    assert.equal(zipDownload.suggestedFilename(), 'deblurred-photos.zip');
    const entries = unzipSync(readFileSync(await zipDownload.path()));
    assert.deepEqual(Object.keys(entries).sort(), photos.map(([name]) => name.replace('.png', '-deblurred.png')).sort());
    photos.forEach(([name], i) => {
      assert.deepEqual(pngSize(entries[name.replace('.png', '-deblurred.png')]), { width: 64 + 8 * (i % 3), height: 48 });
    });
    // Each photo's own download is the same file as in the ZIP.
    const third = page.locator('#queue li').nth(2);
    const [single] = await Promise.all([page.waitForEvent('download'), third.getByRole('button', { name: /^Download/ }).click()]);
    assert.equal(single.suggestedFilename(), 'photo-2-deblurred.png');
    assert.deepEqual(readFileSync(await single.path()), Buffer.from(entries['photo-2-deblurred.png']));
    const foreign = browser.requests.filter((url) => !url.startsWith(server.origin) && !/^(blob|data):/.test(url));
    assert.deepEqual(foreign, []);
  });

});

describe('cancelling photos of the queue (CPU fallback)', () => {
  let server, browser, page;
  servePage({ webgpu: false }, (started) => ({ server, browser, page } = started));

  test('cancel one waiting photo, then all; the queue goes on afterwards', async () => {
    // The first photo is tall (several tiles within 24 MiB), so that it runs a while.
    assert.equal(await open(page, server.origin, '?memory=24'), 'cpu', browser.console.join('\n'));
    const start = await settledCount(page);
    await dropFiles(page, [['tall.png', testPhoto(96, 1300, 1)], ['a.png', testPhoto(64, 48, 2)], ['b.png', testPhoto(64, 48, 3)], ['c.png', testPhoto(64, 48, 4)]]);
    await page.waitForFunction(() => /^Tile \d+ of \d+/.test(document.querySelector('#queue li')?.querySelector('.state').textContent), null, { timeout: 120_000 });
    await page.locator('#queue li').nth(1).getByRole('button', { name: 'Cancel a.png' }).click();
    assert.deepEqual(await states(page), ['running', 'cancelled', 'waiting', 'waiting']);
    await screenshotSizes(page, 'queue-running');
    await page.click('#cancel-all');
    await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) >= n + 4, start, { timeout: 120_000 });
    assert.deepEqual(await states(page), ['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    assert.equal(await page.locator('#queue li .actions button').count(), 0, 'nothing cancelled can be downloaded');
    assert.equal(await page.locator('#download-all').isDisabled(), true);
    assert.equal(await page.locator('#work').isHidden(), true);

    await dropFiles(page, [['after.png', testPhoto(64, 48, 5)]]);
    await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) >= n + 5, start, { timeout: 120_000 });
    assert.deepEqual(await states(page), ['cancelled', 'cancelled', 'cancelled', 'cancelled', 'done']);
    assert.equal(await page.locator('#download-all').isDisabled(), false);
  });
});
