// The result as it is shown and saved: the strength slider (a blend of input and output made in
// the page, used by the download, remembered), and the progressive result (finished bands of
// tiles drawn while the rest is computed; a cancelled photo leaves nothing half-done).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { unzipSync } from 'fflate';
import { deblurFile, FIXTURES, makePng, open, pixels, screenshotSizes, servePage, tempFile, testPhoto } from './harness.mjs';

const SMALL = join(FIXTURES, 'small-blurred.png');

async function downloadShown(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  return readFileSync(await download.path());
}

const maxDifference = (a, b) => a.data.reduce((most, value, i) => Math.max(most, Math.abs(value - b.data[i])), 0);

describe('strength (CPU fallback)', () => {
  let server, browser, page;
  servePage({ webgpu: false }, (started) => ({ server, browser, page } = started));

  test('blend() mixes input and output in the given proportion', async () => {
    await open(page, server.origin);
    const mixed = await page.evaluate(async ([red, blue]) => {
      const { blend } = await import('./web/export.js');
      const blob = (base64) => new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: 'image/png' });
      const result = await blend(blob(red), blob(blue), 0.25);
      const bitmap = await createImageBitmap(result);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      canvas.getContext('2d').drawImage(bitmap, 0, 0);
      return [...canvas.getContext('2d').getImageData(3, 3, 1, 1).data];
    }, [makePng(8, 8, () => [200, 0, 0]), makePng(8, 8, () => [0, 0, 240])].map((png) => png.toString('base64')));
    for (const [got, want] of mixed.slice(0, 3).map((v, i) => [v, [150, 0, 60][i]])) assert.ok(Math.abs(got - want) <= 1, `${mixed} instead of 150,0,60`);
  });

  test('the slider blends live, the download uses it, and it is remembered', async () => {
    await deblurFile(page, SMALL);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.equal(await page.locator('#strength').inputValue(), '100');
    const full = await pixels(page, await downloadShown(page));
    const input = await pixels(page, readFileSync(SMALL));

    await page.locator('#strength').fill('0');
    assert.equal(await page.locator('#after').evaluate((img) => img.style.opacity), '0');
    assert.ok(maxDifference(await pixels(page, await downloadShown(page)), input) <= 1, 'at 0 % the download is the input');

    await page.locator('#strength').fill('30');
    assert.equal(await page.locator('#after').evaluate((img) => img.style.opacity), '0.3');
    assert.equal(await page.locator('#strength-value').textContent(), '30 %');
    const blended = await pixels(page, await downloadShown(page));
    const expected = { data: input.data.map((value, i) => Math.round(0.7 * value + 0.3 * full.data[i])) };
    assert.ok(maxDifference(blended, expected) <= 1, 'at 30 % the download is 0.7 × input + 0.3 × output');
    await screenshotSizes(page, 'strength');

    await page.reload();
    await open(page, server.origin);
    assert.equal(await page.locator('#strength').inputValue(), '30');
    assert.equal(await page.locator('#strength-value').textContent(), '30 %');
  });
});

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(`the progressive result (${webgpu ? 'WebGPU' : 'CPU fallback'})`, () => {
    let server, browser, page;
    // One tile per band: on WebGPU tiles of 256 rows (?tile=256) overlapping by 64, 3 bands
    // of 32×256 on SwiftShader (slow); on the CPU, within 24 MiB (?memory=24), as many bands as
    // the bundled generator's working memory asks (7 of 200×256 for the U-Net; at least 3, so
    // that enough is left after the first band for a Cancel to arrive, on two threads).
    const [width, height, tiles] = webgpu ? [32, 520, 3] : [200, 1400, null];
    const tall = tempFile('tall.png', testPhoto(width, height, 7));
    const summary = new RegExp(`^${width}×${height} · ${tiles ?? '\\d+'} tiles`);
    servePage({ webgpu }, (started) => ({ server, browser, page } = started));

    /** Waits for the first band drawn while the photo still runs; returns what was on screen.
     *  With `pressCancel`, presses Cancel in the page that moment (a click from the test could
     *  land after the photo finished, on whatever moved under the button) and returns the rows
     *  and progress then. */
    const firstBand = async ({ pressCancel = false } = {}) => (await page.waitForFunction((pressCancel) => {
      const item = [...document.querySelectorAll('#queue li')].at(-1);
      const canvas = document.getElementById('partial');
      const rows = Number(canvas.dataset.rows || 0);
      if (item?.dataset.state !== 'running' || rows === 0 || canvas.hidden) return false;
      if (pressCancel) {
        const state = item.querySelector('.state').textContent;
        document.getElementById('cancel').click();
        return { rows, state };
      }
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let opaque = 0;
      while (opaque < canvas.height && data[4 * opaque * canvas.width + 3] === 255) opaque++;
      const transparentBelow = data.slice(4 * opaque * canvas.width).every((value, i) => i % 4 !== 3 || value === 0);
      const pending = document.getElementById('pending');
      return { rows, opaque, transparentBelow, width: canvas.width, height: canvas.height,
        pending: !pending.hidden && parseFloat(pending.style.top) / 100 * canvas.height,
        state: item.querySelector('.state').textContent, top: [...data.slice(0, 4 * rows * canvas.width)] };
    }, pressCancel, { timeout: 300_000 })).jsonValue();

    test('finished bands appear while the rest is computed, and are final', async () => {
      assert.equal(await open(page, server.origin, webgpu ? '?tile=256' : '?memory=24'), backend, browser.console.join('\n'));
      const settled = await page.evaluate(() => Number(document.body.dataset.settled ?? 0));
      await page.setInputFiles('#file', tall);
      const band = await firstBand();
      const [, done, total] = band.state.match(/^Tile (\d+) of (\d+)$/) ?? assert.fail(band.state);
      assert.ok(Number(done) >= 2 && Number(done) <= Number(total) && Number(total) >= 3, band.state);
      if (tiles) assert.equal(Number(total), tiles);
      assert.deepEqual([band.width, band.height], [width, height]);
      assert.ok(band.rows > 0 && band.rows < height, `${band.rows} rows`);
      assert.equal(band.opaque, band.rows, 'exactly the finished rows are drawn');
      assert.equal(band.transparentBelow, true);
      assert.ok(Math.abs(band.pending - band.rows) < 0.5, `the rest is marked as pending from row ${band.pending}`);
      await screenshotSizes(page, `progressive-${backend}`);

      await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) > n, settled, { timeout: 300_000 });
      assert.match(await page.locator('#summary').textContent(), new RegExp(`^${width}×${height} · ${total} tiles`));
      assert.equal(await page.locator('#partial').isHidden(), true);
      assert.equal(await page.locator('#pending').isHidden(), true);
      const result = await pixels(page, await downloadShown(page));
      assert.deepEqual(result.data.slice(0, band.top.length), band.top, 'the bands shown are the result\'s rows');
    });

    test('cancel in the middle keeps nothing half-done', async () => {
      const settled = await page.evaluate(() => Number(document.body.dataset.settled ?? 0));
      await page.setInputFiles('#file', tall);
      const pressed = await firstBand({ pressCancel: true });
      assert.ok(pressed.rows < height, `pressed with ${pressed.rows} of ${height} rows done (${pressed.state})`);
      await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) > n, settled, { timeout: 300_000 });
      assert.equal(await page.locator('#queue li').last().getAttribute('data-state'), 'cancelled');
      assert.equal(await page.locator('#queue li').last().locator('.actions button').count(), 0);
      assert.equal(await page.locator('#partial').getAttribute('data-rows'), '0', 'no band left on screen');
      assert.equal(await page.locator('#partial').isHidden(), true);
      assert.equal(await page.locator('#pending').isHidden(), true);
      assert.match(await page.locator('#summary').textContent(), summary, 'the previous result is shown');
      const [zip] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
      assert.deepEqual(Object.keys(unzipSync(readFileSync(await zip.path()))), ['tall-deblurred.png'], 'only the finished photo');
    });
  });
}
