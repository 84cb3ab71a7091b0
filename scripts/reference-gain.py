#!/usr/bin/env python3
"""The gain (dB) of this project's U-Net weights on the PyTorch reference's validation crops
(shared/reference/unet_cpu_curve.py: the most detailed 256² window of 16 photos, a fixed 7-25 px
shake, noise σ 1/255, 8 bits), so that a burn run and the reference's run are measured on the same
inputs, step against step.

  python scripts/reference-gain.py REFERENCE_SCRIPT VALIDATION_DIR WEIGHTS.safetensors [...]

The weights must be safetensors (`native-trainer export --from RUN -o W.safetensors`): their
names are the reference's modules' (stem, encoder.i.blocks.j.conv1, ...), renamed here. burn's
U-Net works in [-1, 1], the reference's in [0, 1]: the outputs are mapped between the two.
Needs torch, numpy, pillow, safetensors.
"""
import importlib.util, json, re, sys
import torch
from safetensors.torch import load_file


def load_reference(path):
    spec = importlib.util.spec_from_file_location("reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_state(tensors):
    """burn's names (encoder.i.blocks.0.conv1.weight, ...) as the reference UNet's (enc.i.a.weight)."""
    out = {}
    for name, value in tensors.items():
        n = re.sub(r"^encoder\.(\d+)\.blocks\.0\.conv1", r"enc.\1.a", name)
        n = re.sub(r"^encoder\.(\d+)\.blocks\.0\.conv2", r"enc.\1.b", n)
        n = re.sub(r"^encoder\.(\d+)\.down", r"down.\1", n)
        n = re.sub(r"^decoder\.(\d+)\.blocks\.0\.conv1", r"dec.\1.a", n)
        n = re.sub(r"^decoder\.(\d+)\.blocks\.0\.conv2", r"dec.\1.b", n)
        n = re.sub(r"^decoder\.(\d+)\.up", r"up.\1", n)
        n = re.sub(r"^bottom\.(\d+)\.conv1", r"bottom.\1.a", n)
        n = re.sub(r"^bottom\.(\d+)\.conv2", r"bottom.\1.b", n)
        out[n] = value.float()
    return out


def main():
    reference, validation, *weights = sys.argv[1:]
    ref = load_reference(reference)
    blurred, sharp = ref.validation_crops(validation)
    identity = ref.psnr(blurred, sharp)
    for path in weights:
        net = ref.UNet()
        net.load_state_dict(reference_state(load_file(path)))
        net.eval()
        with torch.no_grad():
            # burn's U-Net maps [-1, 1] to [-1, 1]: f01(x) = (f(2x - 1) + 1) / 2.
            out = torch.cat([((net(blurred[i:i + 4] * 2 - 1) + 1) / 2).clamp(0, 1) for i in range(0, len(blurred), 4)])
        print(json.dumps({"weights": path, "identity_psnr": identity, "gain": ref.psnr(out, sharp) - identity}), flush=True)


if __name__ == "__main__":
    main()
