#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing (Debian packages
# for the CPU Vulkan driver), then the Rust tests of the whole workspace (CPU, Flex and wgpu on
# lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

install_debian_packages mesa-vulkan-drivers libvulkan1

echo "== cargo test (target dir: $CARGO_TARGET_DIR)"
cargo test --workspace --locked
