// Shared pieces of the browser tests: the static server, Debian's Chromium (WebGPU on
// SwiftShader, a fresh profile each launch) driven by playwright-core, PNG helpers, screenshots.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const DIST = process.env.DEBLURGAN_DIST ?? join(ROOT, 'dist');
export const ARTIFACTS = join(ROOT, 'artifacts', 'browser');
export const FIXTURES = join(ROOT, 'tests', 'browser', 'fixtures');
mkdirSync(ARTIFACTS, { recursive: true });

const CHROMIUM = process.env.CHROMIUM ?? '/usr/lib/chromium/chromium';
const COMMON_FLAGS = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

/** Starts the page's static server on a free port, sending COOP/COEP unless `isolated` is false;
 *  resolves with { origin, stop }. */
export function serve(root = DIST, { isolated = true } = {}) {
  return new Promise((resolve, reject) => {
    const args = [join(ROOT, 'scripts', 'serve.mjs'), ...(isolated ? [] : ['--not-isolated']), root, '0'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout.on('data', (chunk) => {
      const match = /http:\/\/localhost:(\d+)\//.exec(String(chunk));
      if (match) {
        resolve({
          origin: `http://localhost:${match[1]}`,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', done);
            child.kill();
          }),
        });
      }
    });
  });
}

/** Prints a benchmark page's `#log` as it grows until the page sets `window.benchmark`, then
 *  prints that as JSON. A page that computes on its main thread answers between runs only,
 *  hence the long wait for each read. */
export async function followBenchmark(page) {
  let shown = 0;
  for (;;) {
    const log = await page.locator('#log').textContent({ timeout: 600_000 });
    const lines = log.split('\n').filter((line) => line && line !== 'running…');
    for (const line of lines.slice(shown)) console.log(line);
    shown = lines.length;
    if (await page.evaluate(() => window.benchmark !== undefined)) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  console.log(JSON.stringify(await page.evaluate(() => window.benchmark)));
}

/** Launches Chromium with a fresh profile (or `profile`, a folder kept from an earlier launch:
 *  a second visit), WebGPU on SwiftShader unless `webgpu` is false. Returns `{ context, page,
 *  requests, console, profile }`. */
export async function launch({ webgpu = true, profile = mkdtempSync(join(tmpdir(), 'deblurgan-chromium-')) } = {}) {
  const args = [...COMMON_FLAGS, ...(webgpu ? WEBGPU_FLAGS : ['--disable-features=WebGPU'])];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args, acceptDownloads: true, viewport: { width: 1100, height: 900 },
  });
  const requests = [];
  context.on('request', (request) => requests.push(request.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  const console = [];
  page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
  return { context, page, requests, console, profile };
}

/**
 * Registers hooks on the enclosing suite: before its tests the built page is served and a fresh
 * browser launched, handed to `use` as `{ server, browser, page }`; after them both are stopped
 * (whatever part of them started).
 */
export function servePage({ webgpu = true } = {}, use) {
  const started = {};
  before(async () => {
    started.server = await serve();
    started.browser = await launch({ webgpu });
    started.page = started.browser.page;
    use(started);
  });
  after(async () => {
    await started.browser?.context.close();
    await started.server?.stop();
  });
}

/** Opens the page and waits until the engine reports its backend. Unless the query names a
 *  `warmup`, the page's WebGPU warm-up (a tile of 256², minutes on SwiftShader) is left out:
 *  `warmup=0`. */
export async function open(page, origin, query = '') {
  const params = new URLSearchParams(query);
  if (!params.has('warmup')) params.set('warmup', '0');
  await page.goto(`${origin}/?${params}`);
  await page.waitForFunction(() => ['webgpu', 'cpu', 'failed'].includes(document.getElementById('backend').dataset.state), null, { timeout: 120_000 });
  return page.locator('#backend').getAttribute('data-state');
}

/** Chooses a file in the page and waits for the result or an error. */
export async function deblurFile(page, path) {
  const before = Number(await page.evaluate(() => document.body.dataset.settled ?? 0));
  await page.setInputFiles('#file', path);
  await page.waitForFunction((before) => Number(document.body.dataset.settled ?? 0) > before, before, { timeout: 180_000 });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Width and height from a PNG's header. */
export function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((b, i) => bytes[i] === b)) throw new Error('not a PNG');
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** PSNR in dB between two PNGs, decoded by the browser. */
export async function psnr(page, a, b) {
  return page.evaluate(async ([a, b]) => {
    const pixels = async (base64) => {
      const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: 'image/png' }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d');
      context.drawImage(bitmap, 0, 0);
      return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    };
    const [x, y] = [await pixels(a), await pixels(b)];
    if (x.length !== y.length) return -1;
    let sum = 0, count = 0;
    for (let i = 0; i < x.length; i += 4) for (let c = 0; c < 3; c++) { sum += (x[i + c] - y[i + c]) ** 2; count++; }
    return sum === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sum / count));
  }, [Buffer.from(a).toString('base64'), Buffer.from(b).toString('base64')]);
}

/** Runs the native `deblur` CLI (built by cargo) with the bundled weights; returns the PNG. */
export function deblurNatively(input) {
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache', 'deblurgan', 'target');
  const output = join(mkdtempSync(join(tmpdir(), 'deblurgan-native-')), 'out.png');
  execFileSync(join(target, 'debug', 'deblur'), ['--device', 'cpu', '--weights', join(ROOT, 'web', 'weights', 'deblurgan.bpk'), input, '-o', output], { stdio: 'inherit' });
  return readFileSync(output);
}

/** A PNG made here: `width`×`height`, colour `pixel(x, y)` → [r, g, b] (8-bit, no alpha). */
export function makePng(width, height, pixel) {
  const raw = Buffer.alloc((3 * width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), y * (3 * width + 1) + 1 + 3 * x);
  }
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A small photo-like PNG: a gradient with a pattern that depends on `seed`. */
export function testPhoto(width, height, seed = 0) {
  return makePng(width, height, (x, y) => [
    (x * 255 / width + seed * 40) & 255, (y * 255 / height) & 255, ((x ^ y) * 8 + seed * 17) & 255,
  ]);
}

/** Writes `bytes` to a fresh temporary file named `name`; returns its path. */
export function tempFile(name, bytes) {
  const path = join(mkdtempSync(join(tmpdir(), 'deblurgan-photo-')), name);
  writeFileSync(path, bytes);
  return path;
}

/** Presses Tab until `selector` has the focus (at most `max` presses); returns the stops passed. */
export async function tabTo(page, selector, max = 40) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return stops;
    await page.keyboard.press('Tab');
    stops.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent.trim()));
  }
  throw new Error(`no Tab stop matches ${selector} after ${max} presses: ${stops.join(', ')}`);
}

/** Runs axe-core (from node_modules, injected by the test, not part of the page) on the page;
 *  returns its violations of serious or critical impact. */
export async function axeViolations(page) {
  const source = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })));
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Screenshots at a desktop (1280×800) and a phone (390×844) size, then back to the default. */
export async function screenshotSizes(page, name) {
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}x${height}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1100, height: 900 });
}

/** Decoded RGBA pixels of a PNG (bytes), by the browser: { width, height, data: number[] }. */
export async function pixels(page, png) {
  return page.evaluate(async (base64) => {
    const blob = new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: 'image/png' });
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    return { width: bitmap.width, height: bitmap.height, data: [...context.getImageData(0, 0, bitmap.width, bitmap.height).data] };
  }, Buffer.from(png).toString('base64'));
}
