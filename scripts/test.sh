#!/usr/bin/env bash
# Runs every test of the project on a fresh machine, installing what is missing first:
#   1. the Rust tests of the whole workspace on the CPU (Flex, and wgpu on Mesa's lavapipe);
#   2. the ONNX export run in onnxruntime (Python, in a virtual environment under the build cache);
#   3. the page built to wasm and tested in headless Chromium (WebGPU on SwiftShader, and the
#      CPU fallback), driven by playwright-core. Screenshots land in artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

install_debian_packages mesa-vulkan-drivers libvulkan1 chromium python3 python3-venv
npm install --no-audit --no-fund --loglevel=error

echo "== cargo test (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked

echo "== ONNX export against onnxruntime"
venv="$HOME/.cache/deblurgan/venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime==1.32.0 numpy==2.4.6
DEBLURGAN_PYTHON="$venv/bin/python" cargo test -p native-trainer --test onnx --locked -- --ignored

echo "== web page build"
./scripts/build-web.sh dist

echo "== browser tests"
npm run --silent test:browser
