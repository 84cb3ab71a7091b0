// The before/after comparison of one photo: the after-image clipped at the slider's position,
// shown at the chosen strength (its opacity over the before-image is exactly the blend that the
// download computes), zoom and pan with the mouse or the keyboard, and, while a photo is being
// computed, its finished bands of tiles drawn as they come.

const $ = (id) => document.getElementById(id);
const STRENGTH_KEY = 'deblur.strength';

let beforeUrl = null;
let afterUrl = null;

/** The strength chosen, 0..1, remembered between visits. */
export function strength() {
  return $('strength').value / 100;
}

/** Shows a photo: its input, and its result when there is one (else the bands drawn so far). */
export function show(item) {
  const same = shownKey() === item.key;
  $('result').hidden = false;
  $('result').dataset.key = item.key;
  if (!same) {
    // The same photo keeps its before-image, and so its zoom and pan.
    if (beforeUrl) URL.revokeObjectURL(beforeUrl);
    beforeUrl = URL.createObjectURL(item.file);
    $('before').src = beforeUrl;
  }
  if (afterUrl) URL.revokeObjectURL(afterUrl);
  afterUrl = null;
  const done = item.state === 'done';
  // Bands drawn are dropped once the result is there or another photo is shown (a cancelled
  // photo leaves nothing half-done on screen).
  if (!same || done) clearPartial();
  if (done) {
    afterUrl = URL.createObjectURL(item.result.png);
    $('after').src = afterUrl;
  } else {
    $('after').removeAttribute('src');
  }
  $('after').hidden = !done;
  $('partial').hidden = done;
  $('pending').hidden = done;
  $('download').disabled = !done;
  $('summary').textContent = done
    ? `${item.result.width}×${item.result.height} · ${item.result.tiles} tile${item.result.tiles > 1 ? 's' : ''} · ${item.result.seconds.toFixed(2)} s`
    : `${item.name} · computing…`;
  $('summary').dataset.seconds = done ? item.result.seconds.toFixed(3) : '';
  apply();
}

export function hide() {
  clearPartial();
  $('result').hidden = true;
  delete $('result').dataset.key;
}

/** The key of the photo shown, or null. */
export const shownKey = () => ($('result').hidden ? null : Number($('result').dataset.key));

function clearPartial() {
  const canvas = $('partial');
  canvas.width = 0;
  canvas.height = 0;
  canvas.dataset.rows = '0';
  $('pending').style.top = '0';
}

/** Draws a band of finished rows `{ width, height, top, rows, rgba }` of the photo shown. */
export function drawBand(band) {
  const canvas = $('partial');
  if (canvas.width !== band.width || canvas.height !== band.height) {
    canvas.width = band.width;
    canvas.height = band.height;
  }
  const pixels = new ImageData(new Uint8ClampedArray(band.rgba.buffer ?? band.rgba), band.width, band.rows);
  canvas.getContext('2d').putImageData(pixels, 0, band.top);
  canvas.dataset.rows = String(band.top + band.rows);
  $('pending').style.top = `${(100 * (band.top + band.rows)) / band.height}%`;
}

// Comparison and strength: the after-image (or the partial one) is clipped at the slider's
// position and drawn at the strength's opacity.
function apply() {
  const clip = `inset(0 0 0 ${$('compare').value}%)`;
  for (const id of ['after', 'partial', 'pending']) $(id).style.clipPath = clip;
  for (const id of ['after', 'partial']) $(id).style.opacity = String(strength());
  $('strength-value').textContent = `${$('strength').value} %`;
  placeDivider();
}

/** The divider line sits outside the zoomed stage, so it stays 2 screen pixels wide. */
function placeDivider() {
  const image = $('before');
  const divider = $('divider');
  divider.style.left = `${view.x + ($('compare').value / 100) * image.naturalWidth * view.scale}px`;
  divider.style.top = `${view.y}px`;
  divider.style.height = `${image.naturalHeight * view.scale}px`;
}

// Zoom and pan of the comparison.
const view = {
  scale: 1, x: 0, y: 0,
  apply() {
    $('stage').style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    placeDivider();
  },
  fit() {
    const image = $('before');
    const box = $('viewport').getBoundingClientRect();
    const width = image.naturalWidth || 1, height = image.naturalHeight || 1;
    // Small photos are enlarged (up to 8×) so that their pixels can be seen.
    this.scale = Math.min(box.width / width, box.height / height, 8) || 1;
    this.x = (box.width - width * this.scale) / 2;
    this.y = (box.height - height * this.scale) / 2;
    $('stage').style.width = `${width}px`;
    $('stage').style.height = `${height}px`;
    this.apply();
  },
  zoom(factor, cx, cy) {
    const box = $('viewport').getBoundingClientRect();
    cx ??= box.width / 2; cy ??= box.height / 2;
    const scale = Math.min(16, Math.max(0.05, this.scale * factor));
    this.x = cx - (cx - this.x) * (scale / this.scale);
    this.y = cy - (cy - this.y) * (scale / this.scale);
    this.scale = scale;
    this.apply();
  },
  pan(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  },
};

export function setUpViewer() {
  const saved = localStorage.getItem(STRENGTH_KEY);
  if (saved !== null && /^\d+$/.test(saved) && Number(saved) <= 100) $('strength').value = saved;
  $('strength').addEventListener('input', () => {
    localStorage.setItem(STRENGTH_KEY, $('strength').value);
    apply();
  });
  $('compare').addEventListener('input', apply);
  apply();

  $('before').addEventListener('load', () => view.fit());
  addEventListener('resize', () => { if (!$('result').hidden) view.fit(); });
  $('zoom-in').addEventListener('click', () => view.zoom(1.5));
  $('zoom-out').addEventListener('click', () => view.zoom(1 / 1.5));
  $('zoom-fit').addEventListener('click', () => view.fit());
  const viewport = $('viewport');
  viewport.addEventListener('wheel', (event) => {
    event.preventDefault();
    const box = viewport.getBoundingClientRect();
    view.zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  let drag = null;
  viewport.addEventListener('pointerdown', (event) => {
    drag = { x: event.clientX - view.x, y: event.clientY - view.y };
    viewport.setPointerCapture(event.pointerId);
  });
  viewport.addEventListener('pointermove', (event) => {
    if (!drag) return;
    view.x = event.clientX - drag.x;
    view.y = event.clientY - drag.y;
    view.apply();
  });
  viewport.addEventListener('pointerup', () => { drag = null; });
  // The keyboard: + and − zoom, 0 fits, the arrows pan.
  viewport.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? 100 : 25;
    const actions = {
      '+': () => view.zoom(1.5), '=': () => view.zoom(1.5), '-': () => view.zoom(1 / 1.5), '0': () => view.fit(),
      ArrowLeft: () => view.pan(step, 0), ArrowRight: () => view.pan(-step, 0),
      ArrowUp: () => view.pan(0, step), ArrowDown: () => view.pan(0, -step),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
