"""onnxruntime (CPU) on the work `native-trainer bench-deblur` times: the same sizes, the same
tile plan (tiles of TILE overlapping by OVERLAP, the project's spans) and the whole photo.
Prints the same tab-separated rows. The network only: no photo decoding or blending.

usage: bench-onnx.py MODEL.onnx [--sizes 256x256,1280x720] [--runs 3] [--tile 256 --overlap 64]
       [--threads 2]
"""
import argparse
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def spans(length, tile, overlap):
    """Start and length of the tiles along one axis: src/tiling.rs `spans`."""
    if tile >= length:
        return [(0, length)]
    step = tile - overlap
    count = -(-(length - overlap) // step)
    return [((i * (length - tile) + (count - 1) // 2) // (count - 1), tile) for i in range(count)]


def network_side(side):
    """The side the generator is given: src/tiling.rs `network_side` (at least MIN_SIZE, 8,
    grown to a multiple of SIZE_MULTIPLE, 8)."""
    side = max(side, 8)
    return side + (-side) % 8


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--sizes", default="256x256,1280x720")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    print(f"# onnxruntime {ort.__version__}, CPU, {args.threads} threads")
    print("size\tplan\ttiles\tcomputed\tseconds\tcores")
    rng = np.random.default_rng(0)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        plans = [("whole", [(0, width)], [(0, height)])]
        columns, rows = spans(width, args.tile, args.overlap), spans(height, args.tile, args.overlap)
        if len(columns) * len(rows) > 1:
            plans.insert(0, (f"{args.tile}/{args.overlap}", columns, rows))
        for plan, columns, rows in plans:
            inputs = [
                rng.uniform(-1, 1, (1, 3, network_side(h), network_side(w))).astype(np.float32)
                for (_, h) in rows
                for (_, w) in columns
            ]

            def once():
                for x in inputs:
                    session.run(["output"], {"input": x})

            for _ in range(args.warmup):
                once()
            times = []
            cpu = time.process_time()
            wall = time.perf_counter()
            for _ in range(max(args.runs, 1)):
                start = time.perf_counter()
                once()
                times.append(time.perf_counter() - start)
            cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
            computed = sum(x.shape[2] * x.shape[3] for x in inputs) / (width * height)
            print(f"{width}x{height}\t{plan}\t{len(inputs)}\t{computed:.2f}\t{statistics.median(times):.3f}\t{cores:.2f}")


if __name__ == "__main__":
    main()
