// A small static server for the built page, on the loopback interface only.
//   node scripts/serve.mjs [--not-isolated] [ROOT=dist] [PORT=8080]
// It sends COOP/COEP, which make the page cross-origin isolated: its CPU path can then share the
// wasm memory between threads. --not-isolated leaves them out, as hosts that cannot set headers
// do (the service worker adds them once it serves the page).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const args = process.argv.slice(2);
const isolated = !args.includes('--not-isolated');
const [rootArg, portArg] = args.filter((arg) => !arg.startsWith('--'));
const root = resolve(rootArg ?? 'dist');
const port = Number(portArg ?? process.env.PORT ?? 8080);
const isolation = isolated
  ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
  : {};
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm', '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp',
  '.bpk': 'application/octet-stream', '.safetensors': 'application/octet-stream',
};

const server = createServer(async (request, response) => {
  const path = decodeURIComponent(new URL(request.url, 'http://localhost').pathname);
  let file = normalize(join(root, path));
  if (!file.startsWith(root)) return response.writeHead(403).end();
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const body = await readFile(file);
    response.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...isolation,
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`serving ${root} at http://localhost:${server.address().port}/`);
});
