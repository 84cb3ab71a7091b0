#!/usr/bin/env bash
# Continues the packed run (scripts/gpu-pack.sh) for MINUTES minutes on this machine's GPU (wgpu:
# Vulkan), then stops it cleanly (SIGINT: a checkpoint is written) and copies the run's newest
# checkpoint, log and curve to DEST (the device's $OUT).
#
#   gpu-resume.sh PACK MINUTES DEST [DEVICE]      (DEVICE: gpu, the default, or cpu to try it here)
set -euo pipefail
pack=$(cd "${1:?usage: gpu-resume.sh PACK MINUTES DEST [DEVICE]}" && pwd)
minutes=${2:?usage: gpu-resume.sh PACK MINUTES DEST [DEVICE]}
dest=${3:?usage: gpu-resume.sh PACK MINUTES DEST [DEVICE]}
device=${4:-gpu}
[ -x "$pack/native-trainer" ] || xz -dk "$pack/native-trainer.xz" && chmod +x "$pack/native-trainer"
status=0
timeout -s INT "$((minutes * 60))" "$pack/native-trainer" train --resume -o "$pack/run" \
  --sharp "$pack/photos/train" --validation "$pack/photos/eval" --workers "$(nproc)" --device "$device" || status=$?
# 124: stopped by the timeout's SIGINT, after the trainer wrote its checkpoint.
[ "$status" -eq 0 ] || [ "$status" -eq 124 ] || { echo "the trainer failed ($status)" >&2; exit "$status"; }
latest=$(ls -d "$pack"/run/checkpoints/step-* | sort | tail -n 1)
mkdir -p "$dest/checkpoints"
cp -r "$latest" "$dest/checkpoints/"
cp "$pack"/run/log.jsonl "$pack"/run/validation.jsonl "$dest/" 2>/dev/null || true
echo "checkpoint $(basename "$latest") in $dest"
