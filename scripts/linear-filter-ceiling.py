#!/usr/bin/env python3
"""What one fixed linear filter gains on synthetic blur: a reference line for the learning curves.

    python3 scripts/linear-filter-ceiling.py PAIRS_DIR [RADIUS] [--per-photo]

PAIRS_DIR holds the `NAME-sharp.png` and `NAME-blurred.png` that `native-trainer eval
--write-images DIR` writes. The best (least-squares) linear correction of each pixel from the
(2 RADIUS + 1)² neighbourhood of the same channel of the blurred photo (RADIUS 5 by default) is
fitted on one half of the photos and measured on the other, both ways round: the mean PSNR gain
(dB, over RGB, peak 255) of `blurred + filter(blurred)` against the blurred photo, per held-out
photo. A network that deblurs should beat it: this is what an unsharp mask chosen for the whole
blur distribution at once can do, without looking at each photo's blur. With --per-photo each
photo gets its own filter, fitted on itself (knowing its blur: a non-blind linear deconvolution),
which is roughly what a network that recognises each photo's blur could reach with a linear
correction. Needs numpy and Pillow.
"""

import sys
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def windows(image, radius):
    """A view [h - 2r, w - 2r, 3, 2r + 1, 2r + 1]: each inner pixel's neighbourhood per channel."""
    k = 2 * radius + 1
    return sliding_window_view(image, (k, k), axis=(0, 1))


def apply(image, weights, radius):
    """`weights` ((2r+1)², row-major) applied to every inner pixel of each channel."""
    k = 2 * radius + 1
    h, w = image.shape[0] - 2 * radius, image.shape[1] - 2 * radius
    out = np.zeros((h, w, 3))
    for i, weight in enumerate(weights):
        dy, dx = divmod(i, k)
        out += weight * image[dy : dy + h, dx : dx + w]
    return out


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return 100.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def fit(photos, names, radius, rng):
    """Least-squares weights of the correction `sharp - blurred` from the blurred neighbourhoods."""
    xtx, xty = 0.0, 0.0
    for n in names:
        blurred, sharp = photos[n]
        view = windows(blurred, radius)
        target = (sharp - blurred)[radius:-radius, radius:-radius]
        count = 300_000
        ys = rng.integers(0, view.shape[0], count)
        xs = rng.integers(0, view.shape[1], count)
        cs = rng.integers(0, 3, count)
        x = view[ys, xs, cs].reshape(count, -1)
        xtx = xtx + x.T @ x
        xty = xty + x.T @ target[ys, xs, cs]
    return np.linalg.solve(xtx + 1e-6 * np.eye(len(xty)), xty)


def scores(photos, name, weights, radius):
    """(blurred PSNR, corrected PSNR) of one photo, the correction rounded to 8 bits."""
    blurred, sharp = photos[name]
    out = blurred.copy()
    out[radius:-radius, radius:-radius] += apply(blurred, weights, radius)
    out = np.clip(np.round(out * 255) / 255, 0, 1)
    return psnr(blurred, sharp), psnr(out, sharp)


def main():
    args = sys.argv[1:]
    per_photo = "--per-photo" in args
    args = [a for a in args if a != "--per-photo"]
    if not args:
        sys.exit(__doc__)
    pairs = Path(args[0])
    radius = int(args[1]) if len(args) > 1 else 5
    names = sorted(p.name[: -len("-sharp.png")] for p in pairs.glob("*-sharp.png"))
    if len(names) < 2:
        sys.exit(f"fewer than two pairs in {pairs}")
    rng = np.random.default_rng(0)
    photos = {n: (load(pairs / f"{n}-blurred.png"), load(pairs / f"{n}-sharp.png")) for n in names}
    gains, directions = [], []
    if per_photo:
        for n in names:
            gains.append((n, *scores(photos, n, fit(photos, [n], radius, rng), radius)))
    else:
        halves = [names[0::2], names[1::2]]
        for fitted, tested in [(halves[0], halves[1]), (halves[1], halves[0])]:
            weights = fit(photos, fitted, radius, rng)
            for n in tested:
                gains.append((n, *scores(photos, n, weights, radius)))
            directions.append(np.mean([after - before for _, before, after in gains[-len(tested):]]))
    for n, before, after in gains:
        print(f"{n:40s} {before:6.2f} -> {after:6.2f} dB ({after - before:+.2f})")
    before = np.mean([g[1] for g in gains])
    after = np.mean([g[2] for g in gains])
    print(f"mean over {len(gains)} {'photos, each with its own filter' if per_photo else 'held-out photos'}: {before:.2f} -> {after:.2f} dB, gain {after - before:+.2f} dB")
    if directions:
        print("gain of each half fitted on the other: " + ", ".join(f"{g:+.2f} dB" for g in directions))


if __name__ == "__main__":
    main()
