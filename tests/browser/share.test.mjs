// "Open with" and "Share": the manifest's file_handlers (files through the launch queue) and
// share_target (a multipart POST the service worker answers, network or not).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launch, open, serve, testPhoto } from './harness.mjs';

const states = (page) => page.$$eval('#queue li', (items) => items.map((li) => [li.querySelector('.name').textContent, li.dataset.state]));

describe('open with and share to (CPU fallback)', () => {
  let server, browser, page, manifest;
  before(async () => {
    server = await serve();
    browser = await launch({ webgpu: false });
    page = browser.page;
    // The system hands launched files to the page's launchQueue consumer; here the test holds
    // the consumer and calls it with real file handles (the origin's private file system).
    await page.addInitScript(() => {
      Object.defineProperty(window, 'launchQueue', {
        configurable: true,
        value: { setConsumer: (consumer) => { window.launchConsumer = consumer; } },
      });
    });
    manifest = await (await fetch(`${server.origin}/web/manifest.webmanifest`)).json();
  });
  after(async () => {
    await browser?.context.close();
    await server?.stop();
  });

  test('the manifest offers the app for JPEG, PNG and WebP and as a share target', () => {
    const base = `${server.origin}/web/manifest.webmanifest`;
    const [handler] = manifest.file_handlers;
    assert.equal(new URL(handler.action, base).href, `${server.origin}/`);
    assert.deepEqual(Object.keys(handler.accept).sort(), ['image/jpeg', 'image/png', 'image/webp']);
    const share = manifest.share_target;
    assert.equal(new URL(share.action, base).href, `${server.origin}/share-target`);
    assert.equal(share.method, 'POST');
    assert.equal(share.enctype, 'multipart/form-data');
    assert.equal(share.params.files[0].name, 'photos');
  });

  test('a photo opened with the app arrives through the launch queue and is deblurred', async () => {
    assert.equal(await open(page, server.origin), 'cpu', browser.console.join('\n'));
    const settled = await page.evaluate(() => Number(document.body.dataset.settled ?? 0));
    await page.evaluate(async (base64) => {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getFileHandle('opened.png', { create: true });
      const writable = await handle.createWritable();
      await writable.write(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
      await writable.close();
      await window.launchConsumer({ files: [handle] });
    }, testPhoto(80, 60, 1).toString('base64'));
    await page.waitForFunction((n) => Number(document.body.dataset.settled ?? 0) > n, settled, { timeout: 180_000 });
    assert.deepEqual(await states(page), [['opened.png', 'done']]);
    assert.match(await page.locator('#summary').textContent(), /^80×60 · 1 tile/);
  });

  test('photos shared to the app with the server stopped are received and deblurred', async () => {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await server.stop();
    // What the system's Share menu does: a navigation that POSTs the photos (multipart) to the
    // share target, here from a blank page (the app's own pages allow no form submission).
    await page.goto('about:blank');
    const navigated = page.waitForURL(`${server.origin}/?shared=2`, { waitUntil: 'commit' });
    await page.evaluate(([action, photos]) => {
      const form = Object.assign(document.createElement('form'), { method: 'POST', enctype: 'multipart/form-data', action });
      const input = Object.assign(document.createElement('input'), { type: 'file', name: 'photos', multiple: true });
      const transfer = new DataTransfer();
      for (const [name, base64] of photos) {
        transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));
      }
      input.files = transfer.files;
      form.append(input);
      document.body.append(form);
      form.submit();
    }, [`${server.origin}/share-target`, [['shared-1.png', testPhoto(64, 48, 2).toString('base64')], ['shared 2.png', testPhoto(72, 40, 3).toString('base64')]]]);
    // The service worker answered (the server is stopped) with a redirect to the page.
    await navigated;
    await page.waitForFunction(() => document.querySelectorAll('#queue li[data-state="done"]').length === 2, null, { timeout: 180_000 });
    assert.deepEqual((await states(page)).sort(), [['shared 2.png', 'done'], ['shared-1.png', 'done']]);
    assert.equal(await page.evaluate(() => location.search), '', 'the address no longer names the share');
    assert.equal(await page.evaluate(async () => (await (await caches.open('deblurgan-shared')).keys()).length), 0, 'the shared photos were taken');
    assert.equal(await page.locator('#error').isHidden(), true);
  });
});
