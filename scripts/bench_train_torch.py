"""The training step `native-trainer bench-train` times, in PyTorch on the CPU: the same
networks (the U-Net and compact-residual-plain generators, the PatchGAN critic), the same
batch, crops and losses, Adam. Prints the mean seconds per step (`step <seconds>`), for
scripts/bench-train.sh to set beside burn's.

The networks follow ../shared/reference/unet_cpu_curve.py (the U-Net and Compact classes) and
src/model/critic.rs (the PatchGAN: 4x4 convolutions, padding 2, InstanceNorm, LeakyReLU 0.2).
The gradient penalty is PyTorch's usual double backward (burn's trainer takes a finite
difference instead, at the cost of extra critic passes: the step each framework would run).
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 3, 1, 1), nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class UNet(nn.Module):
    """src/model/unet.rs: 24-192 channels over 4 levels, a residual block per level each way,
    two at the bottom, 3x3 stride-2 down, 2x2 transposed up, skips added, output input + head."""

    def __init__(self, c=24, levels=4, bottom=2):
        super().__init__()
        ch = [c * 2 ** i for i in range(levels)]
        self.stem = nn.Conv2d(3, c, 3, 1, 1)
        self.enc = nn.ModuleList([ResBlock(x) for x in ch[:-1]])
        self.down = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1], 3, 2, 1) for i in range(levels - 1)])
        self.bottom = nn.Sequential(*[ResBlock(ch[-1]) for _ in range(bottom)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, 2) for i in range(levels - 1)])
        self.dec = nn.ModuleList([ResBlock(x) for x in ch[:-1]])
        self.head = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, inp):
        x = self.stem(inp)
        skips = []
        for enc, down in zip(self.enc, self.down):
            x = enc(x)
            skips.append(x)
            x = F.relu(down(x))
        x = self.bottom(x)
        for i in reversed(range(len(self.up))):
            x = self.dec[i](F.relu(self.up[i](x)) + skips[i])
        return inp + self.head(x)


class CompactResidualPlain(nn.Module):
    """GeneratorConfig::compact_residual_plain(): 7x7 stem, two stride-2 convolutions, 6
    residual blocks of 128 channels, nearest x2 + 3x3 convolution twice, 7x7 head, reflection
    padding, no normalisation, output input + tanh(head)."""

    def __init__(self, c=32, blocks=6):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 7)
        self.d1, self.d2 = nn.Conv2d(c, 2 * c, 3, 2, 1), nn.Conv2d(2 * c, 4 * c, 3, 2, 1)
        self.blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(4 * c, 4 * c, 3), nn.Conv2d(4 * c, 4 * c, 3)]) for _ in range(blocks)])
        self.u1, self.u2 = nn.Conv2d(4 * c, 2 * c, 3, 1, 1), nn.Conv2d(2 * c, c, 3, 1, 1)
        self.head = nn.Conv2d(c, 3, 7)

    def forward(self, inp):
        def pad(t, n):
            return F.pad(t, (n, n, n, n), mode="reflect")

        x = F.relu(self.stem(pad(inp, 3)))
        x = F.relu(self.d2(F.relu(self.d1(x))))
        for a, b in self.blocks:
            x = x + b(pad(F.relu(a(pad(x, 1))), 1))
        x = F.relu(self.u1(F.interpolate(x, scale_factor=2)))
        x = F.relu(self.u2(F.interpolate(x, scale_factor=2)))
        return inp + torch.tanh(self.head(pad(x, 3)))


class PatchCritic(nn.Module):
    """CriticConfig::patch(): 64 channels, 3 layers, InstanceNorm, one score per patch."""

    def __init__(self, c=64, layers=3):
        super().__init__()
        seq = [nn.Conv2d(3, c, 4, 2, 2), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, layers + 1):
            previous, mult = mult, min(2 ** n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(c * previous, c * mult, 4, stride, 2), nn.InstanceNorm2d(c * mult), nn.LeakyReLU(0.2)]
        seq += [nn.Conv2d(c * mult, 1, 4, 1, 2)]
        self.net = nn.Sequential(*seq)

    def forward(self, x):
        return self.net(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--architecture", default="unet", choices=["unet", "compact-residual-plain"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--content-only", action="store_true")
    ap.add_argument("--critic-updates", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    generator = UNet() if a.architecture == "unet" else CompactResidualPlain()
    g_optim = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    critic = None if a.content_only else PatchCritic()
    c_optim = None if critic is None else torch.optim.Adam(critic.parameters(), lr=1e-4, eps=1e-8)
    blurred = torch.rand(a.batch, 3, a.crop, a.crop) * 2 - 1
    sharp = torch.rand(a.batch, 3, a.crop, a.crop) * 2 - 1

    def step():
        fake = generator(blurred)
        if critic is not None:
            for _ in range(a.critic_updates):
                detached = fake.detach()
                eps = torch.rand(a.batch, 1, 1, 1)
                mixed = (eps * sharp + (1 - eps) * detached).requires_grad_(True)
                (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
                penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                loss = critic(detached).mean() - critic(sharp).mean() + 10 * penalty
                c_optim.zero_grad(set_to_none=True)
                loss.backward()
                c_optim.step()
        loss = 100 * (fake - sharp).abs().mean()
        if critic is not None:
            loss = loss - critic(fake).mean()
        g_optim.zero_grad(set_to_none=True)
        loss.backward()
        g_optim.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    print(f"step {(time.perf_counter() - start) / a.steps:.4f}")


if __name__ == "__main__":
    main()
