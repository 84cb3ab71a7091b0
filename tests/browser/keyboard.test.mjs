// Keyboard and screen readers: every control reachable with Tab and shown with a focus outline,
// the whole path (open, deblur, compare, strength, download) with the keyboard only, the live
// regions, and an axe-core audit (injected by the test; the page does not ship it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { axeViolations, FIXTURES, open, pngSize, screenshot, servePage, tabTo } from './harness.mjs';

const SMALL = join(FIXTURES, 'small-blurred.png');

describe('the page with the keyboard only (CPU fallback)', () => {
  let server, browser, page;
  servePage({ webgpu: false }, (started) => ({ server, browser, page } = started));

  test('from a fresh profile: open a photo, deblur, compare, change strength, zoom, download', async () => {
    assert.equal(await open(page, server.origin), 'cpu', browser.console.join('\n'));
    // Enter on the drop zone opens the file chooser.
    // (Playwright intercepts the chooser once a listener is there: set it up before the key.)
    let chooser = page.waitForEvent('filechooser');
    await tabTo(page, '#drop');
    await page.keyboard.press('Enter');
    const fromDrop = await chooser;
    assert.equal(fromDrop.isMultiple(), true);
    await fromDrop.setFiles([]);
    // Space on "Choose photos…" does too; the photo chosen is deblurred.
    chooser = page.waitForEvent('filechooser');
    await tabTo(page, '#choose');
    const settled = Number(await page.evaluate(() => document.body.dataset.settled ?? 0));
    await page.keyboard.press(' ');
    await (await chooser).setFiles(SMALL);
    await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) > n, settled, { timeout: 180_000 });
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.match(await page.locator('#summary').textContent(), /^64×48 · 1 tile/);

    await tabTo(page, '#viewport');
    const fitted = await page.locator('#stage').evaluate((stage) => stage.style.transform);
    await page.keyboard.press('+');
    const zoomed = await page.locator('#stage').evaluate((stage) => stage.style.transform);
    assert.notEqual(zoomed, fitted);
    await page.keyboard.press('ArrowLeft');
    assert.notEqual(await page.locator('#stage').evaluate((stage) => stage.style.transform), zoomed, 'the arrows pan');
    await page.keyboard.press('0');
    assert.equal(await page.locator('#stage').evaluate((stage) => stage.style.transform), fitted);

    await tabTo(page, '#compare');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');
    assert.equal(await page.locator('#compare').inputValue(), '40');
    assert.equal(await page.locator('#after').evaluate((img) => img.style.clipPath), 'inset(0px 0px 0px 40%)');

    await tabTo(page, '#strength');
    await page.keyboard.press('PageDown');
    const strength = Number(await page.locator('#strength').inputValue());
    assert.ok(strength < 100, `strength ${strength}`);
    assert.equal(await page.locator('#after').evaluate((img) => img.style.opacity), String(strength / 100));
    assert.equal(await page.locator('#strength-value').textContent(), `${strength} %`);
    await screenshot(page, 'keyboard-strength');

    await tabTo(page, '#download');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.equal(download.suggestedFilename(), 'small-blurred-deblurred.png');
    assert.deepEqual(pngSize(readFileSync(await download.path())), { width: 64, height: 48 });
  });

  test('every Tab stop shows a focus outline', async () => {
    // From the first stop to the last; the queue's own buttons are there too now (Show,
    // Download, Clear, Download all).
    await page.locator('#drop').focus();
    await page.keyboard.press('Shift+Tab');
    const stops = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const stop = await page.evaluate(() => {
        const element = document.activeElement;
        if (!element || element === document.body) return null;
        const style = getComputedStyle(element);
        return {
          name: element.id || element.textContent.trim().replace(/\s+/g, ' '),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        };
      });
      if (!stop || stops.some((s) => s.name === stop.name)) break;
      stops.push(stop);
    }
    const names = stops.map((s) => s.name);
    for (const id of ['drop', 'choose', 'sample', 'zoom-out', 'zoom-fit', 'zoom-in', 'download', 'viewport', 'compare', 'strength', 'clear', 'download-all']) {
      assert.ok(names.includes(id), `${id} is a Tab stop: ${names.join(', ')}`);
    }
    assert.ok(names.some((n) => /^Show small-blurred/.test(n)) && names.some((n) => /^Download small-blurred/.test(n)), names.join(', '));
    assert.deepEqual(stops.filter((s) => !s.outline).map((s) => s.name), [], 'stops without a visible outline');
  });

  test('progress and errors are announced', async () => {
    assert.equal(await page.locator('#status').getAttribute('aria-live'), 'polite');
    assert.equal(await page.locator('#error').getAttribute('role'), 'alert');
    await page.setInputFiles('#file', join(FIXTURES, 'not-a-photo.jpg'));
    await page.locator('#error').waitFor({ state: 'visible', timeout: 120_000 });
    assert.match(await page.locator('#error').textContent(), /not a photo this page can read/);
    assert.match(await page.locator('#status').textContent(), /^Failed: not-a-photo\.jpg$/);
  });

  test('axe-core finds no serious or critical problem, at the start and with results', async () => {
    const withResults = await axeViolations(page);
    assert.deepEqual(withResults, [], JSON.stringify(withResults, null, 2));
    await page.reload();
    await open(page, server.origin);
    const atStart = await axeViolations(page);
    assert.deepEqual(atStart, [], JSON.stringify(atStart, null, 2));
  });
});
