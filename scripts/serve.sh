#!/usr/bin/env bash
# Builds the web page with the bundled weights and serves it at http://localhost:8080/
# (PORT=... to change). Open it in a browser with WebGPU (Chrome, Edge; Firefox and Safari
# recent versions); without WebGPU the page runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh dist
exec node scripts/serve.mjs dist "${PORT:-8080}"
