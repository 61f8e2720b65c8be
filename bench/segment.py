"""Throughput, peak memory and Dice of ``segment predict`` vs the original study's way.

Baselines ("paper way"): one image at a time, fp32, no channels_last, 512 px input, decoding in
the main process - with the paper's U-Net (64 base filters; untrained here, so speed only, on a
few images) and with our model (speed and Dice). Ours: batches of 8, bf16 autocast +
channels_last where the CPU supports it, the model's own input size, two decoding workers. Both
include post-processing, use the same
model and the same images (the shared segmentation pack, which has true masks), each variant in
a fresh process so peak memory is its own.

Run: ``.venv/bin/python bench/segment.py [--model default] [--limit N]``
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
    data = load_dataset(SHARED, require_label=False)
    records = data.records[:limit]
    if model_path == "paper-untrained":
        model, model_size = UNet(PAPER_UNET).eval(), 512
    else:
        model, model_size, _ = load_segmenter(model_path)
    paths = [data.image_path(r) for r in records]
    rt = Runtime(device="cpu", amp=amp, channels_last=cl)
    # Warm-up (first-call allocations) on two images, not timed.
    list(predict_masks(paths[:2], model, size or model_size, batch, 0, rt))
    t0 = time.perf_counter()
    scores = []
    for i, raw in predict_masks(paths, model, size or model_size, batch, workers, rt):
        mask = postprocess_mask(raw).mask
        assert data.masks_dir is not None
        scores.append(dice(mask, read_mask(data.masks_dir / records[i].filename, mask.shape)))
    sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": name, "n": len(paths), "sec": sec, "ips": len(paths) / sec,
            "dice": float(np.mean(scores)), "peak_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="default")
    ap.add_argument("--limit", type=int, default=117)
    ap.add_argument("--variant", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from hideseek.runtime import cpu_supports_bf16

    amp = cpu_supports_bf16()
    variants = [
        ("paper U-Net (64 filters), 1 image, fp32, 512 px (untrained: speed only)",
         "paper-untrained", min(args.limit, 12), 512, 1, False, False, 0, 2),
        ("baseline: 1 image, fp32, 512 px (paper way)", args.model, args.limit, 512, 1, False,
         False, 0, 2),
        ("baseline at model size: 1 image, fp32", args.model, args.limit, None, 1, False, False,
         0, 2),
        (f"ours: batch 8, {'bf16' if amp else 'fp32'}, channels_last, 2 workers", args.model,
         args.limit, None, 8, amp, True, 2, 2),
    ]
    if args.variant is not None:  # child process: one variant, one JSON line
        print(json.dumps(_variant(variants[args.variant])))
        return
    results = []
    for k in range(len(variants)):  # a fresh process each, so peak memory is the variant's own
        out = subprocess.run([sys.executable, __file__, "--model", args.model, "--limit",
                              str(args.limit), "--variant", str(k)], check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    paper, base = results[0]["ips"], results[1]["ips"]
    rows = [[r["name"], r["n"], r["ips"], r["ips"] / paper, r["ips"] / base,
             "n/a" if k == 0 else r["dice"], r["peak_mb"]] for k, r in enumerate(results)]
    print_table(["variant", "images", "images/s", "vs paper U-Net", "vs our model paper way",
                 "mean Dice", "peak RSS MB"],
                rows, "segment predict incl. post-processing, shared segmentation pack, CPU")


if __name__ == "__main__":
    main()
