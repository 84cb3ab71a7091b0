#!/usr/bin/env bash
# Builds the web page into OUT (default dist/): the root crate compiled to wasm with the size
# profile, wasm-bindgen of the version in Cargo.lock (installed with cargo if missing),
# wasm-opt from npm's binaryen, then the page files, the weights manifest and the service worker.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
OUT=${1:-dist}

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
echo "== wasm (profile wasm-release)"
cargo build --locked --lib --target wasm32-unknown-unknown --profile wasm-release

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" != "$version" ]; then
  echo "== installing wasm-bindgen-cli $version"
  cargo install wasm-bindgen-cli --version "$version"
fi
{ [ -x node_modules/.bin/wasm-opt ] && [ -f node_modules/fflate/package.json ]; } || npm install --no-audit --no-fund

rm -rf "$OUT"
mkdir -p "$OUT/web/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$OUT/web/pkg" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/deblurgan.wasm"
echo "== wasm-opt"
node_modules/.bin/wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$OUT/web/pkg/deblurgan_bg.wasm" -o "$OUT/web/pkg/deblurgan_bg.wasm"
node scripts/assemble-web.mjs "$OUT"
ls -l "$OUT/web/pkg/deblurgan_bg.wasm" | awk '{ printf "wasm: %.1f MB", $5 / 1e6 }'
printf ' (%.1f MB gzipped)\n' "$(gzip -9 -c "$OUT/web/pkg/deblurgan_bg.wasm" | wc -c | awk '{ print $1 / 1e6 }')"
