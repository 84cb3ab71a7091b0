// What is downloaded: a result at the chosen strength (the input and the output blended in the
// page, no recompute), one photo as PNG or all of them in one ZIP made here (fflate, served
// from this origin like the rest of the page).
import { Zip, ZipPassThrough } from './vendor/fflate.js';

const decode = (blob) => createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });

/** `input` and `output` blended: input × (1 − strength) + output × strength, as a PNG blob.
 *  At full strength the output's own bytes are returned untouched. */
export async function blend(input, output, strength) {
  if (strength >= 1) return output;
  const after = await decode(output);
  const canvas = new OffscreenCanvas(after.width, after.height);
  const context = canvas.getContext('2d');
  const before = await createImageBitmap(input, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  context.drawImage(before, 0, 0, after.width, after.height);
  before.close();
  context.globalAlpha = Math.max(0, strength);
  context.drawImage(after, 0, 0);
  after.close();
  return canvas.convertToBlob({ type: 'image/png' });
}

/** The file name a result is downloaded under. */
export const resultName = (item) => `${item.name.replace(/\.[^.]*$/, '')}-deblurred.png`;

/** Makes the browser save `blob` as `name`. */
export function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** One ZIP of the results at `strength`, stored (PNGs do not compress further), made one photo
 *  at a time. */
export async function zipResults(items, strength) {
  const parts = [];
  let failure = null;
  const zip = new Zip((error, chunk) => {
    if (error) failure = error;
    else parts.push(chunk);
  });
  const used = new Set();
  for (const item of items) {
    let name = resultName(item);
    for (let n = 2; used.has(name); n++) name = resultName(item).replace(/\.png$/, `-${n}.png`);
    used.add(name);
    const entry = new ZipPassThrough(name);
    zip.add(entry);
    entry.push(new Uint8Array(await (await blend(item.file, item.result.png, strength)).arrayBuffer()), true);
  }
  zip.end();
  if (failure) throw failure;
  return new Blob(parts, { type: 'application/zip' });
}
