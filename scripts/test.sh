#!/usr/bin/env bash
# Runs every test of the project on a fresh machine, installing what is missing first:
#   1. the Rust tests of the whole workspace on the CPU (Flex, and wgpu on Mesa's lavapipe);
#   2. the page built to wasm and tested in headless Chromium (WebGPU on SwiftShader, and the
#      CPU fallback), driven by playwright-core. Screenshots land in artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

install_debian_packages mesa-vulkan-drivers libvulkan1 chromium
npm install --no-audit --no-fund --loglevel=error

echo "== cargo test (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked

echo "== web page build"
./scripts/build-web.sh dist

echo "== browser tests"
npm run --silent test:browser
