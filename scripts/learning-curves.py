#!/usr/bin/env python3
"""Learning curves of training runs: validation gain (dB) against training CPU-minutes.

    python3 scripts/learning-curves.py OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]

Each RUN_DIR holds the `validation.jsonl` that `native-trainer train --validation DIR` writes.
Two panels: the strong shake and the moderate shake. Needs matplotlib (pip install matplotlib).
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(run):
    rows = []
    for line in (Path(run) / "validation.jsonl").read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    rows.sort(key=lambda r: r["train_cpu_minutes"])
    return rows


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    for spec in sys.argv[2:]:
        label, _, run = spec.partition("=")
        rows = read(run)
        minutes = [r["train_cpu_minutes"] for r in rows]
        for axis, strength in zip(axes, ["strong", "moderate"]):
            axis.plot(minutes, [r[f"{strength}_gain"] for r in rows], marker="o", markersize=3, label=label)
    for axis, title in zip(axes, ["strong shake (60 px paths, 4 exposures)", "moderate shake (whole 5-25 px paths)"]):
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("training CPU-minutes")
        axis.set_ylabel("gain over the blurred input (dB)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("Validation: exported f16 weights, tiled as the page runs them")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
