#!/usr/bin/env bash
# Builds the web page into OUT (default dist/): the root crate compiled to wasm three times with
# the wasm-release profile (pkg/: WebGPU and the CPU engine on one thread; pkg-threads/: the CPU
# engine on a pool of Web Workers, built with the nightly toolchain, atomics and a rebuilt std;
# pkg-threads-relaxed/: the same with relaxed SIMD's multiply-add, for the browsers that take it),
# wasm-bindgen of the version in Cargo.lock (installed with cargo if missing), wasm-opt from npm's
# binaryen, then the page files, the weights manifest and the service worker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
OUT=${1:-dist}

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
echo "== wasm (profile wasm-release)"
cargo build --locked --lib --target wasm32-unknown-unknown --profile wasm-release --features webgpu

# Threads in the wasm need a std built with atomics, which only nightly can build (-Z build-std).
# RUSTFLAGS replaces .cargo/config.toml's flags, so SIMD128 is named again. The memory is shared,
# hence imported and bounded: 4 GiB, as much as wasm32 addresses.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
  || rustup component add rust-src --toolchain nightly
threads_target="$CARGO_TARGET_DIR/wasm-threads"
threads_wasm="$threads_target/wasm32-unknown-unknown/wasm-release/deblurgan.wasm"
# build_threads FEATURES DIR: the threaded module with FEATURES, copied into DIR (the two
# threaded builds share their dependencies and their output path).
build_threads() {
  RUSTFLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals \
    -C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory \
    -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
    -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base" \
    CARGO_TARGET_DIR="$threads_target" cargo +nightly build --locked --lib --target wasm32-unknown-unknown \
    --profile wasm-release --features "$1" -Z build-std=panic_abort,std
  mkdir -p "$2"
  cp "$threads_wasm" "$2/deblurgan.wasm"
}
echo "== wasm with threads (nightly, profile wasm-release)"
build_threads wasm-threads "$threads_target/threads"
# Only the CPU engine's kernels enable relaxed SIMD (src/cpu_inference/lanes.rs): with
# +relaxed-simd in RUSTFLAGS macerator, burn Flex's SIMD, does not build.
echo "== wasm with threads and relaxed SIMD (nightly, profile wasm-release)"
build_threads wasm-threads,relaxed-simd "$threads_target/threads-relaxed"

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" != "$version" ]; then
  echo "== installing wasm-bindgen-cli $version"
  cargo install wasm-bindgen-cli --version "$version"
fi
{ [ -x node_modules/.bin/wasm-opt ] && [ -f node_modules/fflate/package.json ]; } || npm install --no-audit --no-fund

rm -rf "$OUT"
wasm_opt_features=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
# bind WASM PKG [wasm-opt flags]: the JS bindings and the optimised module into OUT/web/PKG.
bind() {
  local wasm=$1 pkg="$OUT/web/$2"
  shift 2
  mkdir -p "$pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" "$wasm"
  node_modules/.bin/wasm-opt -Oz "${wasm_opt_features[@]}" "$@" "$pkg/deblurgan_bg.wasm" -o "$pkg/deblurgan_bg.wasm"
}
echo "== wasm-bindgen, wasm-opt"
bind "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/deblurgan.wasm" pkg
bind "$threads_target/threads/deblurgan.wasm" pkg-threads --enable-threads
bind "$threads_target/threads-relaxed/deblurgan.wasm" pkg-threads-relaxed --enable-threads --enable-relaxed-simd
node scripts/assemble-web.mjs "$OUT"
for pkg in pkg pkg-threads pkg-threads-relaxed; do
  wasm="$OUT/web/$pkg/deblurgan_bg.wasm"
  printf '%s: %.1f MB (%.1f MB gzipped)\n' "$pkg" "$(stat -c %s "$wasm" | awk '{ print $1 / 1e6 }')" \
    "$(gzip -9 -c "$wasm" | wc -c | awk '{ print $1 / 1e6 }')"
done
