// Shared pieces of the browser tests: the static server, Debian's Chromium (WebGPU on
// SwiftShader, a fresh profile each launch) driven by playwright-core, PNG helpers, screenshots.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Starts the page's static server on a free port; resolves with { origin, stop }. */
export function serve(root = DIST) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'serve.mjs'), root, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** Launches Chromium with a fresh profile, WebGPU on SwiftShader unless `webgpu` is false. */
export async function launch({ webgpu = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'deblurgan-chromium-'));
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
  return { context, page, requests, console };
}

/** Opens the page and waits until the engine reports its backend. */
export async function open(page, origin, query = '') {
  await page.goto(`${origin}/${query}`);
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
