"""Runs an ONNX graph in onnxruntime (CPU) on one input: the ONNX export test's other half.

usage: run_onnx.py MODEL INPUT OUTPUT N C H W
INPUT and OUTPUT are raw little-endian float32 arrays of shape [N, C, H, W].
"""
import sys

import numpy as np
import onnxruntime as ort

model, input_path, output_path = sys.argv[1:4]
shape = [int(v) for v in sys.argv[4:8]]
x = np.fromfile(input_path, dtype="<f4").reshape(shape)
options = ort.SessionOptions()
options.intra_op_num_threads = 2
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
(y,) = session.run(["output"], {"input": x})
y.astype("<f4").tofile(output_path)
print(f"onnxruntime {ort.__version__}: {model} {list(x.shape)} -> {list(y.shape)}")
