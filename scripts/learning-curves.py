#!/usr/bin/env python3
"""Learning curves of training runs: validation gain (dB) against training CPU-minutes.

    python3 scripts/learning-curves.py [--steps] OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]

With --steps the x axis is the training step instead of the CPU-minutes (for runs made on
different CPUs, whose minutes are not comparable). Each RUN_DIR holds the `validation.jsonl` that
`native-trainer train --validation DIR` writes (the fixed validation crops). A `.tsv` in place of
RUN_DIR is a table of `native-trainer eval` results on the whole evaluation photos, one row per
checkpoint, with the columns `step`, `train_cpu_minutes`, `moderate_gain` and `strong_gain`
(e.g. `training/unet/eval-points.tsv`): drawn as squares joined by dashes.
Two panels: the strong shake and the moderate shake. Needs matplotlib (pip install matplotlib).
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_table(path):
    lines = [line.split("\t") for line in Path(path).read_text().splitlines() if line.strip()]
    header, body = lines[0], lines[1:]
    rows = [{key: (float(value) if key != "note" else value) for key, value in zip(header, line)} for line in body]
    rows.sort(key=lambda r: (r["train_cpu_minutes"], r["step"]))
    return rows


def read(run):
    if run.endswith(".tsv"):
        return read_table(run)
    rows = []
    for line in (Path(run) / "validation.jsonl").read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    rows.sort(key=lambda r: (r["train_cpu_minutes"], r["step"]))
    return rows


def main():
    args = sys.argv[1:]
    by_step = "--steps" in args
    args = [a for a in args if a != "--steps"]
    if len(args) < 2:
        sys.exit(__doc__)
    out = args[0]
    x_key, x_label = ("step", "training step") if by_step else ("train_cpu_minutes", "training CPU-minutes")
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=False)
    for spec in args[1:]:
        label, _, run = spec.partition("=")
        rows = read(run)
        xs = [r[x_key] for r in rows]
        style = dict(marker="s", markersize=6, linestyle="--") if run.endswith(".tsv") else dict(marker="o", markersize=3)
        for axis, strength in zip(axes, ["strong", "moderate"]):
            axis.plot(xs, [r[f"{strength}_gain"] for r in rows], label=label, **style)
    for axis, title in zip(axes, ["strong shake (60 px paths, 4 exposures)", "moderate shake (whole 5-25 px paths)"]):
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel(x_label)
        axis.set_ylabel("gain over the blurred input (dB)")
        axis.grid(alpha=0.3)
    # One legend, beside the panels, so that it hides no curve.
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Gain of the exported weights, tiled as the page runs them")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
