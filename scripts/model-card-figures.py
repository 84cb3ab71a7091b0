#!/usr/bin/env python3
"""Before/after figures of docs/model-card.md, from images the tools wrote.

    python3 scripts/model-card-figures.py EVAL_IMAGES REAL_BLUR REAL_DEBLURRED OUT

EVAL_IMAGES: the folder of `native-trainer eval --write-images` (NAME-{sharp,blurred,deblurred}.png);
REAL_BLUR: the camera-blurred photos; REAL_DEBLURRED: the folder `deblur REAL_BLUR -o REAL_DEBLURRED` wrote (same names);
OUT: where the JPEG figures go (docs/model-card/). Needs Pillow (photos.sh's venv has it).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

# Crops are shown enlarged with nearest-neighbour so that single pixels stay visible.
ZOOM = 2
GAP = 6


def crop_box(image, size, centre):
    """A `size` box around `centre` (fractions of the width and height), inside the image."""
    w, h = size
    x = int(centre[0] * image.width - w / 2)
    y = int(centre[1] * image.height - h / 2)
    x = max(0, min(x, image.width - w))
    y = max(0, min(y, image.height - h))
    return (x, y, x + min(w, image.width), y + min(h, image.height))


def row(images, labels, zoom):
    """The images side by side with a label above each."""
    label_height = 18
    scaled = [im.resize((im.width * zoom, im.height * zoom), Image.NEAREST) for im in images]
    width = sum(im.width for im in scaled) + GAP * (len(scaled) - 1)
    height = max(im.height for im in scaled) + label_height
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    x = 0
    for im, label in zip(scaled, labels):
        out.paste(im.convert("RGB"), (x, label_height))
        draw.text((x + 4, 3), label, fill="black")
        x += im.width + GAP
    return out


def main():
    eval_images, real_blur, real_deblurred, out = map(Path, sys.argv[1:5])
    out.mkdir(parents=True, exist_ok=True)
    # Synthetic camera shake on evaluation photos: sharp / blurred / deblurred, 1:1 crops.
    # The three largest PSNR gains and the largest loss of the model card's evaluation (the
    # U-Net of steps 15000 and 20000, moderate shake).
    for name, centre in [
        ("lxqt-themes__Valendas", (0.5, 0.5)),
        ("lomiri-wallpapers-16.04__free_by_Peter_Nerlich", (0.5, 0.5)),
        ("lxqt-themes__after-the-rain", (0.5, 0.5)),
        ("lomiri-wallpapers-16.04__friends_by_Aitzol_Berasategi", (0.5, 0.5)),
    ]:
        files = [eval_images / f"{name}-{kind}.png" for kind in ("sharp", "blurred", "deblurred")]
        if not all(f.exists() for f in files):
            print(f"skipped {name}: not in {eval_images}")
            continue
        images = [Image.open(f) for f in files]
        box = crop_box(images[0], (240, 240), centre)
        figure = row([im.crop(box) for im in images], ["sharp", "blurred (synthetic shake)", "deblurred"], 1)
        figure.save(out / f"eval-{name.split('__')[1]}.jpg", quality=90)
    # Real camera blur: before / after, enlarged crops.
    for path in sorted(real_blur.iterdir()):
        after = next(real_deblurred.glob(path.stem + ".*"), None)
        if after is None:
            print(f"skipped {path.name}: no output in {real_deblurred}")
            continue
        before, after = Image.open(path).convert("RGB"), Image.open(after).convert("RGB")
        box = crop_box(before, (200, 150), (0.5, 0.5))
        figure = row([before.crop(box), after.crop(box)], ["before", "after"], ZOOM)
        figure.save(out / f"real-{path.stem}.jpg", quality=90)
    print(f"figures in {out}")


if __name__ == "__main__":
    main()
