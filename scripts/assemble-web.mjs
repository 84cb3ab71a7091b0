// Assembles the page into OUT (after build-web.sh has put the wasm into OUT/web/pkg): copies the
// page files and fflate, writes the weights manifest (size and SHA-256 of each bundled model, checked by the
// worker before use) and the service worker with its list of assets and a version hash.
//   node scripts/assemble-web.mjs OUT
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const out = process.argv[2] ?? 'dist';
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

cpSync('index.html', join(out, 'index.html'));
for (const entry of ['app.js', 'engine.js', 'queue.js', 'viewer.js', 'export.js', 'worker.js', 'style.css',
  'manifest.webmanifest', 'icons', 'samples', 'bench.html', 'bench.js']) {
  cpSync(join('web', entry), join(out, 'web', entry), { recursive: true });
}
// fflate (npm, a devDependency) makes the ZIP of all results in the page: served from this
// origin like the rest, with its licence.
mkdirSync(join(out, 'web', 'vendor'), { recursive: true });
cpSync('node_modules/fflate/esm/browser.js', join(out, 'web', 'vendor', 'fflate.js'));
cpSync('node_modules/fflate/LICENSE', join(out, 'web', 'vendor', 'fflate.LICENSE'));

// The bundled models: web/weights/models.json names them; sizes and hashes are measured here.
mkdirSync(join(out, 'web', 'weights'), { recursive: true });
const models = JSON.parse(readFileSync('web/weights/models.json', 'utf8')).models.map((model) => {
  const bytes = readFileSync(join('web', 'weights', model.file));
  cpSync(join('web', 'weights', model.file), join(out, 'web', 'weights', model.file));
  return { ...model, bytes: bytes.length, sha256: sha256(bytes) };
});
writeFileSync(join(out, 'web', 'weights', 'manifest.json'), JSON.stringify({ models }, null, 2));

// Every file is cached for offline use; the version changes whenever any of them does.
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(relative(out, path).split('\\').join('/'));
  }
};
walk(out);
const assets = ['./', ...files.filter((file) => file !== 'sw.js')];
const version = sha256(files.map((file) => sha256(readFileSync(join(out, file)))).join('')).slice(0, 16);
const worker = readFileSync('web/sw.template.js', 'utf8')
  .replace('__VERSION__', version)
  .replace('__ASSETS__', JSON.stringify(assets, null, 2));
writeFileSync(join(out, 'sw.js'), worker);
console.log(`assembled ${out}: ${assets.length} assets, version ${version}`);
