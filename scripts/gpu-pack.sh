#!/usr/bin/env bash
# Packs what a GPU machine needs to continue a training run, into one archive of at most 60 MiB:
# the release trainer (stripped, xz), the run's newest checkpoint, the training and validation
# photos scaled to 1280 px as JPEG, and gpu-resume.sh, which continues the run there.
#
#   scripts/gpu-pack.sh RUN PHOTOS OUT.tar      (PHOTOS: photos.sh's folder, with train/ and eval/)
#
# Then, on the GPU machine: tar -xf OUT.tar -C pack && pack/gpu-resume.sh pack MINUTES "$OUT"
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
run=${1:?usage: gpu-pack.sh RUN PHOTOS OUT.tar}
photos=${2:?usage: gpu-pack.sh RUN PHOTOS OUT.tar}
out=${3:?usage: gpu-pack.sh RUN PHOTOS OUT.tar}
latest=$(ls -d "$run"/checkpoints/step-* 2>/dev/null | sort | tail -n 1)
[ -n "$latest" ] || { echo "no checkpoint in $run/checkpoints" >&2; exit 1; }

cargo build --release -p native-trainer --bin native-trainer
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
strip -o "$stage/native-trainer" "$CARGO_TARGET_DIR/release/native-trainer"
xz -T0 -9 "$stage/native-trainer"
mkdir -p "$stage/run/checkpoints"
cp -r "$latest" "$stage/run/checkpoints/"
cp "$run"/log.jsonl "$run"/validation.jsonl "$stage/run/" 2>/dev/null || true
# The trainer scales photos to 1280 px itself (--max-side): sending them at that size loses nothing.
# Pillow in the project's Python environment (the one scripts/test.sh makes for onnxruntime).
venv="$HOME/.cache/deblurgan/venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check pillow==12.0.0
"$venv/bin/python" - "$photos" "$stage/photos" <<'PY'
import pathlib, sys
from PIL import Image, ImageOps
source, target = map(pathlib.Path, sys.argv[1:])
for subset in ("train", "eval"):
    (target / subset).mkdir(parents=True, exist_ok=True)
    for path in sorted((source / subset).iterdir()):
        try:
            image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        except OSError:
            continue
        image.thumbnail((1280, 1280), Image.LANCZOS)
        image.save(target / subset / (path.stem + ".jpg"), quality=85)
PY
cp scripts/gpu-resume.sh "$stage/"
tar -cf "$out" -C "$stage" .
size=$(stat -c %s "$out")
echo "$out: $((size / 1024 / 1024)) MiB (trainer $(($(stat -c %s "$stage/native-trainer.xz") / 1024 / 1024)) MiB)"
[ "$size" -le $((60 * 1024 * 1024)) ] || { echo "over 60 MiB" >&2; exit 1; }
