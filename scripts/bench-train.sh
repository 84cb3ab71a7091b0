#!/usr/bin/env bash
# One training step of the same network in burn (`native-trainer bench-train`: burn's own
# convolutions, then the project's matrix-product ones) and in PyTorch, on this CPU with the same
# threads, interleaved round by round; prints each step time and the ratio to PyTorch's.
#
#   scripts/bench-train.sh [unet|compact-residual-plain] [content|gan] [ROUNDS]
#
# unet: batch 8, 96² crops; compact-residual-plain: batch 4, 128² crops. gan: the WGAN-GP step
# with 5 critic updates (the PatchGAN critic). THREADS (default: all cores) sets both sides'.
# PyTorch comes from PyPI into a venv under the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

architecture=${1:-unet}
mode=${2:-content}
rounds=${3:-2}
threads=${THREADS:-$(nproc)}
case "$architecture" in
  unet) batch=8 crop=96 ;;
  compact-residual-plain) batch=4 crop=128 ;;
  *) echo "unknown architecture $architecture (unet or compact-residual-plain)" >&2; exit 2 ;;
esac
case "$mode" in
  content) flags=(--content-only) steps=6 warmup=2 ;;
  gan) flags=(--critic-updates 5) steps=3 warmup=1 ;;
  *) echo "unknown mode $mode (content or gan)" >&2; exit 2 ;;
esac

venv="$HOME/.cache/deblurgan/torch-venv"
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch numpy
fi
cargo build --release -p native-trainer --quiet
trainer="$CARGO_TARGET_DIR/release/native-trainer"

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "$architecture, batch $batch, ${crop}² crops, $mode step, $threads threads, $cpu"
echo "PyTorch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
printf "%-6s %14s %16s %10s %16s %16s\n" round "burn's (s)" "matrix prod. (s)" "PyTorch (s)" "burn's/PyTorch" "matrix/PyTorch"
for round in $(seq 1 "$rounds"); do
  burn=$(RAYON_NUM_THREADS=$threads "$trainer" bench-train --architecture "$architecture" --batch $batch --crop $crop \
    "${flags[@]}" --steps $steps --warmup $warmup --convolutions both 2>/dev/null \
    | awk '/step \(without data\)/ {print $4}')
  torch=$("$venv/bin/python" scripts/bench_train_torch.py --architecture "$architecture" --batch $batch --crop $crop \
    --threads "$threads" --steps $steps --warmup $warmup "${flags[@]}" | awk '/^step/ {print $2}')
  read -r before after <<<"$(echo $burn)"
  awk -v round="$round" -v before="$before" -v after="$after" -v torch="$torch" \
    'BEGIN { printf "%-6s %14.3f %16.3f %10.3f %16.2f %16.2f\n", round, before, after, torch, before / torch, after / torch }'
done
