"""Audit throughput: one model through the model adapter as PyTorch eager fp32, PyTorch bf16 +
channels_last, and onnxruntime (the same weights exported with ``torch.onnx.export``).

Timed: ``ModelAdapter.predict_proba`` on preprocessed images (input preparation, forward pass,
output mapping), the part of an audit that depends on the runtime; an audit does it once per
representation. The largest probability difference to eager fp32 is reported with each row.

Run: ``.venv/bin/python bench/audit.py [--arch resnet50] [--n 64] [--size 224] [--batch 16]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.models import ModelAdapter, ModelSpec, build_model, load_model
from hideseek.runtime import Runtime, cpu_supports_bf16


def _throughput(adapter: ModelAdapter, x: torch.Tensor, batch: int) -> tuple[float, np.ndarray]:
    for _ in range(2):  # warm-up (kernels chosen, the one-off input check)
        adapter.predict_proba(x[:batch])
    start = time.perf_counter()
    prob = np.concatenate([adapter.predict_proba(x[i:i + batch])
                           for i in range(0, len(x), batch)])
    return len(x) / (time.perf_counter() - start), prob


def _onnx(model: torch.nn.Module, size: int, spec: ModelSpec, folder: Path) -> ModelAdapter:
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.rand(2, 1, size, size),), str(path), input_names=["x"],
                          dynamic_shapes=({0: torch.export.Dim.DYNAMIC},), dynamo=True)
    return load_model(path, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model(args.arch, 3, pretrained=False).eval()
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # random weights give logits of ~1e2 (saturated softmax): scale them
        head.weight /= 100  # down so that precision differences show in the probabilities
        head.bias /= 100
    spec = ModelSpec(classes=["normal", "pneumonia", "COVID-19"],
                     input={"size": args.size})  # type: ignore[arg-type]
    x = torch.rand(args.n, 1, args.size, args.size)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("PyTorch eager fp32 (baseline)",
                 ModelAdapter.from_module(model, spec).to(Runtime("cpu", False, False))),
                ("PyTorch bf16 autocast + channels_last",
                 ModelAdapter.from_module(model, spec).to(Runtime("cpu", True, True))),
                ("onnxruntime fp32 (CPU provider)", _onnx(model, args.size, spec, Path(tmp)))]
        base_rate, base_prob = 0.0, None
        for name, adapter in runs:
            rate, prob = _throughput(adapter, x, args.batch)
            if base_prob is None:
                base_rate, base_prob = rate, prob
            rows.append([name, rate, rate / base_rate, float(np.abs(prob - base_prob).max())])
    print_table(["runtime", "images/s", "vs eager fp32", "max |p - p_fp32|"], rows,
                f"audit throughput, {args.arch}, {args.size} px, {args.n} images, batch "
                f"{args.batch}, {torch.get_num_threads()} threads, native bf16: "
                f"{cpu_supports_bf16()}")


if __name__ == "__main__":
    main()
