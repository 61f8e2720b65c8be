"""Throughput, peak memory and Dice of ``segment predict`` vs the original study's way.

Baselines ("paper way"): one image at a time, fp32, no channels_last, 512 px input, decoding in
the main process - with the paper's U-Net (64 base filters; untrained here, so speed only, on a
few images) and with our model (speed and Dice). Ours: batches of 8, bf16 autocast +
channels_last where the CPU supports it, the model's own input size, two decoding workers. Both
include post-processing, use the same
model and the same images (the shared segmentation pack, which has true masks), each variant in
a fresh process so peak memory is its own.

With ``--models default,PATH,...`` it compares instead the prediction speed of several models
(ours settings, each in a fresh process, same images, same run): images/s, the ratio against the
first model (today's shipped one), the checkpoint size in MB, parameters and mean Dice. A
model named ``NAME+tta`` predicts with test-time augmentation (``--models
three-collections,three-collections+tta``: the cost of TTA).

Run: ``.venv/bin/python bench/segment.py [--model default] [--limit N]
[--models default,PATH,...] [--threads 2] [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "segmentation"


def _variant(args: tuple[str, str, int, int | None, int, bool, bool, int, int]) -> dict:  # type: ignore[type-arg]
    name, model_path, limit, size, batch, amp, cl, workers, threads = args
    import numpy as np
    import torch

    from hideseek.data import load_dataset, read_mask
    from hideseek.runtime import Runtime
    from hideseek.segmentation import (
        PAPER_UNET,
        UNet,
        dice,
        load_segmenter,
        postprocess_mask,
        predict_masks,
    )

    torch.set_num_threads(threads)
    model_path, tta = _tta_suffix(model_path)
    data = load_dataset(SHARED, require_label=False)
    records = data.records[:limit]
    if model_path == "paper-untrained":
        model, model_size = UNet(PAPER_UNET).eval(), 512
    else:
        model, model_size, _ = load_segmenter(model_path)
    paths = [data.image_path(r) for r in records]
    rt = Runtime(device="cpu", amp=amp, channels_last=cl)
    # Warm-up (first-call allocations) on two images, not timed.
    list(predict_masks(paths[:2], model, size or model_size, batch, 0, rt, tta=tta))
    t0 = time.perf_counter()
    scores = []
    for i, raw in predict_masks(paths, model, size or model_size, batch, workers, rt, tta=tta):
        mask = postprocess_mask(raw).mask
        assert data.masks_dir is not None
        scores.append(dice(mask, read_mask(data.masks_dir / records[i].filename, mask.shape)))
    sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": name, "n": len(paths), "sec": sec, "ips": len(paths) / sec,
            "dice": float(np.mean(scores)), "peak_mb": peak,
            "params": sum(p.numel() for p in model.parameters())}


def _tta_suffix(model: str) -> tuple[str, bool]:
    """``NAME+tta`` -> (NAME, True): that model with test-time augmentation."""
    return (model[: -len("+tta")], True) if model.endswith("+tta") else (model, False)


def _weights_mb(model_path: str) -> float:
    from hideseek.segmentation.checkpoint import shipped_model_path

    model_path = _tta_suffix(model_path)[0]
    path = shipped_model_path(model_path) or Path(model_path)
    if path.is_dir():
        path = path / "best.pt"
    return path.stat().st_size / 1e6


def _variants(args: argparse.Namespace, amp: bool) -> list[tuple]:  # type: ignore[type-arg]
    """(name, model, images, input size, batch, amp, channels_last, workers, threads) each."""
    if args.models:
        return [(m, m, args.limit, None, 8, amp, True, args.workers, args.threads)
                for m in args.models.split(",")]
    t = args.threads
    return [
        ("paper U-Net (64 filters), 1 image, fp32, 512 px (untrained: speed only)",
         "paper-untrained", min(args.limit, 12), 512, 1, False, False, 0, t),
        ("baseline: 1 image, fp32, 512 px (paper way)", args.model, args.limit, 512, 1, False,
         False, 0, t),
        ("baseline at model size: 1 image, fp32", args.model, args.limit, None, 1, False, False,
         0, t),
        (f"ours: batch 8, {'bf16' if amp else 'fp32'}, channels_last, {args.workers} workers",
         args.model, args.limit, None, 8, amp, True, args.workers, t),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="default")
    ap.add_argument("--models", help="compare these models' speed: default,PATH,... (the first "
                    "is the reference)")
    ap.add_argument("--limit", type=int, default=117)
    ap.add_argument("--threads", type=int, default=2, help="torch threads per variant")
    ap.add_argument("--workers", type=int, default=2, help="decoding workers of 'ours'")
    ap.add_argument("--variant", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from hideseek.runtime import cpu_supports_bf16

    amp = cpu_supports_bf16()
    variants = _variants(args, amp)
    if args.variant is not None:  # child process: one variant, one JSON line
        print(json.dumps(_variant(variants[args.variant])))
        return
    results = []
    for k in range(len(variants)):  # a fresh process each, so peak memory is the variant's own
        out = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--variant", str(k)],
                             check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    if args.models:
        ref = results[0]["ips"]
        rows = [[r["name"], r["n"], r["ips"], r["ips"] / ref, _weights_mb(r["name"]),
                 f"{r['params'] / 1e6:.2f}", r["dice"], r["peak_mb"]] for r in results]
        print_table(["model", "images", "images/s", "vs first", "weights MB", "params (M)",
                     "mean Dice", "peak RSS MB"], rows,
                    f"segment predict speed per model, incl. post-processing, CPU, batch 8, "
                    f"{'bf16' if amp else 'fp32'}, channels_last, {args.threads} threads, "
                    f"{args.workers} workers, shared segmentation pack")
        return
    paper, base = results[0]["ips"], results[1]["ips"]
    rows = [[r["name"], r["n"], r["ips"], r["ips"] / paper, r["ips"] / base,
             "n/a" if k == 0 else r["dice"], r["peak_mb"]] for k, r in enumerate(results)]
    print_table(["variant", "images", "images/s", "vs paper U-Net", "vs our model paper way",
                 "mean Dice", "peak RSS MB"],
                rows, "segment predict incl. post-processing, shared segmentation pack, CPU")


if __name__ == "__main__":
    main()
