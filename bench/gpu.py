"""GPU throughput of hideseek's networks, and the demo, in one prepared run (under 5 minutes).

On a machine with a CUDA device: training and prediction throughput (images/s) and peak GPU
memory (``torch.cuda.max_memory_allocated``) of the shipped U-Net (depth 5, 16 filters, 256 px),
the paper's U-Net (64 filters, 512 px) and ResNet-50 (224 px, random initialisation), through
hideseek's own ``Runtime`` (AMP on: bf16 where the GPU has it, else fp16 with a gradient scaler;
channels_last), on synthetic tensors: warm-up iterations first, then timed ones, the device
synchronised before each clock reading. Training is one Adam step on cross-entropy per batch;
prediction a forward pass under ``torch.inference_mode``. Then ``hideseek demo``
(``hideseek.protocol.demo.run_demo``) with a small ``n`` in a child process under a time
budget. One Markdown table.

On a machine without CUDA it says so and exits 0. ``--device cpu --quick`` runs the same code on
the CPU with tiny inputs in seconds (the smoke test of ``tests/test_bench_gpu.py``).

Run: ``.venv/bin/python bench/gpu.py [--device cuda] [--demo-n 300] [--demo-budget 150]
[--quick]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.runtime import Runtime

__all__ = ["Case", "main", "measure", "run_demo_budgeted"]


@dataclass(frozen=True)
class Case:
    """One network at one input size.

    Attributes:
        name: Shown in the table.
        build: Returns the network (N x 1 x S x S inputs).
        size: Input side (px).
        classes: Output classes (per pixel for a segmenter).
        dense: Per-pixel targets (segmentation) instead of one per image.
        train_batch: Batch of the training steps; predict_batch: of the forward passes.
    """

    name: str
    build: Callable[[], torch.nn.Module]
    size: int
    classes: int
    dense: bool
    train_batch: int
    predict_batch: int


def _sync(rt: Runtime) -> None:
    if rt.device.startswith("cuda"):
        torch.cuda.synchronize(rt.device)


def _peak_reset(rt: Runtime) -> None:
    if rt.device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(rt.device)


def _peak_mib(rt: Runtime) -> float | None:
    if rt.device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(rt.device) / 2**20
    return None


def measure(case: Case, rt: Runtime, train: bool, warmup: int, iters: int,
            seed: int = 0) -> dict[str, object]:
    """Images/s and peak memory of ``case`` training (one Adam step per batch) or predicting.

    Returns:
        ``{"case", "mode", "batch", "size", "images_per_s", "peak_mib", "amp"}``
        (``peak_mib`` None off CUDA).
    """
    torch.manual_seed(seed)
    model = rt.model(case.build())
    batch = case.train_batch if train else case.predict_batch
    x = rt.batch(torch.rand(batch, 1, case.size, case.size))
    shape = (batch, case.size, case.size) if case.dense else (batch,)
    y = torch.randint(0, case.classes, shape).to(rt.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = rt.grad_scaler()
    model.train(train)

    def step() -> None:
        if train:
            with rt.autocast():
                loss = F.cross_entropy(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            with torch.inference_mode(), rt.autocast():
                model(x)

    _peak_reset(rt)
    for _ in range(warmup):
        step()
    _sync(rt)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(rt)
    sec = time.perf_counter() - t0
    return {"case": case.name, "mode": "train" if train else "predict", "batch": batch,
            "size": case.size, "images_per_s": batch * iters / sec, "peak_mib": _peak_mib(rt),
            "amp": str(rt.amp_dtype).removeprefix("torch.") if rt.amp else "off"}


def _cases(quick: bool) -> list[Case]:
    from hideseek.models import build_model
    from hideseek.segmentation.unet import PAPER_UNET, UNet, UNetConfig

    def resnet50() -> torch.nn.Module:
        return build_model("resnet50", num_classes=3, pretrained=False)

    def unet() -> torch.nn.Module:  # the shipped model's layout
        return UNet(UNetConfig(depth=5, base=16, batch_norm=True))

    if quick:
        return [Case("U-Net shipped (depth 5, 16 filters)", unet,
                     32, 2, True, 2, 2),
                Case("ResNet-50", resnet50, 32, 3, False, 2, 2)]
    return [Case("U-Net shipped (depth 5, 16 filters)", unet,
                 256, 2, True, 32, 64),
            Case("U-Net paper (64 filters)", lambda: UNet(PAPER_UNET), 512, 2, True, 4, 16),
            Case("ResNet-50", resnet50, 224, 3, False, 64, 256)]


_DEMO = ("import sys; from hideseek.protocol.demo import run_demo, demo_is_right; "
         "v = run_demo(sys.argv[1], n=int(sys.argv[2])); "
         "print('DEMO', 'right' if demo_is_right(v) else 'WRONG', flush=True)")


def run_demo_budgeted(n: int, budget_s: float, out: Path) -> dict[str, object]:
    """``run_demo(out, n)`` in a child process (its own session), stopped after ``budget_s``.

    Returns:
        ``{"n", "seconds", "status"}``: ``verdicts right``, ``verdicts WRONG``, ``stopped at the
        budget`` or ``failed (rc N)``.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _DEMO, str(out), str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            env={**os.environ, "HIDESEEK_PROGRESS": "0"})
    try:
        text, _ = proc.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and its data-loader workers
        proc.communicate()
        return {"n": n, "seconds": time.perf_counter() - t0, "status": "stopped at the budget"}
    sec = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = text.strip().splitlines()[-1:] or [""]
        return {"n": n, "seconds": sec, "status": f"failed (rc {proc.returncode}): {tail[0]}"}
    right = "DEMO right" in text
    return {"n": n, "seconds": sec, "status": "verdicts right" if right else "verdicts WRONG"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 also when there is no CUDA device (nothing to measure)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when available)")
    ap.add_argument("--quick", action="store_true", help="tiny inputs, 1 warm-up, 2 timed "
                    "iterations (a smoke run)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--demo-n", type=int, default=300, help="phantom images per scenario "
                    "(0: no demo)")
    ap.add_argument("--demo-budget", type=float, default=150.0, help="seconds")
    args = ap.parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if device is None:
        print("bench/gpu.py: no CUDA device on this machine; nothing to measure (a CPU smoke "
              "run: --device cpu --quick)")
        return 0
    rt = Runtime(device=device, amp=True, channels_last=True)
    warmup, iters = (1, 2) if args.quick else (args.warmup, args.iters)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"
    rows: list[list[object]] = []
    for case in _cases(args.quick):
        for train in (True, False):
            r = measure(case, rt, train, warmup, iters)
            peak = r["peak_mib"]
            rows.append([r["case"], r["mode"], r["batch"], r["size"], r["amp"],
                         f"{r['images_per_s']:.1f}", "n/a" if peak is None else f"{peak:.0f}"])
    if args.demo_n > 0:
        with tempfile.TemporaryDirectory(prefix="hideseek-gpu-demo-") as tmp:
            d = run_demo_budgeted(args.demo_n, args.demo_budget, Path(tmp))
        rows.append([f"hideseek demo (n {d['n']} per scenario)", str(d["status"]), "", "",
                     "", f"{d['seconds']:.0f} s", ""])
    print_table(["network", "mode", "batch", "px", "AMP", "images/s", "peak MiB"], rows,
                f"hideseek on {name} ({device}; torch {torch.__version__}; synthetic tensors, "
                f"{warmup} warm-up + {iters} timed iterations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
