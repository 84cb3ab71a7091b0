#!/usr/bin/env python3
"""How much a generator changes photos that are already sharp (what it does to a photo that
needs no deblurring): the centre 256×256 crop of each photo, scaled to a longest side of 1280 as
`eval` does, is run through the generator's ONNX export without any blur or noise; the output,
clamped and rounded to 8 bits, is compared with its input (16 px borders left out).

    native-trainer export --from RUN -o /tmp/g.onnx
    python3 scripts/sharp-input-check.py /tmp/g.onnx[,/tmp/h.onnx ...] PHOTO [PHOTO ...]

Prints per model: how many photos come out unchanged at 8 bits, the PSNR of output against input
over the changed ones (mean and worst photo), the mean change and its RMS in 8-bit levels. Needs onnxruntime, numpy and pillow (the test script's
virtual environment has them).
"""

import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

CROP, BORDER, MAX_SIDE = 256, 16, 1280


def centre_crop(path):
    image = Image.open(path).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    pixels = np.asarray(image, np.float32)
    height, width = pixels.shape[:2]
    top, left = max(height // 2 - CROP // 2, 0), max(width // 2 - CROP // 2, 0)
    return pixels[top : top + CROP, left : left + CROP]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    crops = [centre_crop(path) for path in sys.argv[2:]]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for model in sys.argv[1].split(","):
        session = ort.InferenceSession(model, options)
        name = session.get_inputs()[0].name
        rows = []
        for crop in crops:
            x = (crop / 127.5 - 1).transpose(2, 0, 1)[None].astype(np.float32)
            y = np.clip(session.run(None, {name: x})[0][0], -1, 1)
            out = np.round((y.transpose(1, 2, 0) + 1) * 127.5)
            change = (out - crop)[BORDER:-BORDER, BORDER:-BORDER]
            mse = float((change**2).mean())
            psnr = 10 * np.log10(255**2 / mse) if mse > 0 else float("inf")
            rows.append((psnr, float(change.mean()), mse**0.5))
        psnr, mean, rms = (np.array(column) for column in zip(*rows))
        changed = psnr[np.isfinite(psnr)]
        summary = f"{changed.mean():.2f} dB (worst {changed.min():.2f})" if len(changed) else "-"
        print(
            f"{model}: {len(rows)} sharp photos, {len(rows) - len(changed)} unchanged; output vs input "
            f"of the changed ones {summary}; mean change {mean.mean():+.3f} levels, RMS {rms.mean():.3f} levels"
        )


if __name__ == "__main__":
    main()
