#!/usr/bin/env bash
# This project's CPU inference (`native-trainer bench-deblur`: the CPU engine, as `deblur` runs it,
# then burn Flex's forward pass) beside onnxruntime on the same network (the weights exported with
# `export --onnx`), the same sizes and tile plan. Usage: scripts/bench-native.sh [WEIGHTS] [SIZES]   (default: the bundled weights,
# 256x256,1280x720). Pause other work first: timings beside a busy core mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
weights="${1:-web/weights/deblurgan.bpk}"
sizes="${2:-256x256,1280x720}"

venv="$HOME/.cache/deblurgan/venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime==1.32.0 numpy==2.4.6

cargo build --release --locked -p native-trainer --bin native-trainer
trainer="$CARGO_TARGET_DIR/release/native-trainer"
onnx="$(mktemp -d)/generator.onnx"
"$trainer" export --from "$weights" -o "$onnx"

echo "== this project: the CPU engine (as deblur --device cpu runs it)"
"$trainer" bench-deblur --weights "$weights" --sizes "$sizes" --device cpu --engine auto
echo "== this project: burn Flex's forward pass"
"$trainer" bench-deblur --weights "$weights" --sizes "$sizes" --device cpu --engine burn
echo "== onnxruntime (CPU)"
"$venv/bin/python" scripts/bench-onnx.py "$onnx" --sizes "$sizes"
