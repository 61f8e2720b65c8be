"""Grad-CAM throughput: batched (ours) vs one image at a time, same model, same images.

Both compute the predicted-class and true-class maps, the attribution numbers and their nulls
(random maps at the map's resolution); ``--method`` picks a registered explainer. Ours runs
batches of 16 with bf16 autocast + channels_last where supported.

Run: ``.venv/bin/python bench/cam.py [--arch resnet50] [--n 64] [--size 224]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.data import (
    ClassificationDataset,
    PhantomConfig,
    Preprocess,
    load_dataset,
    write_phantom_dataset,
)
from hideseek.explanation import cam_dataset
from hideseek.models import build_model
from hideseek.runtime import Runtime, cpu_supports_bf16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--method", default="gradcam", help="a registered explainer")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Phantoms carry exact masks, so the numbers are computed as in real use.
        write_phantom_dataset(Path(tmp) / "p", PhantomConfig(n=args.n, size=args.size))
        data = load_dataset(Path(tmp) / "p")
        ds = ClassificationDataset(data, Preprocess(size=args.size, crop_top=0.0),
                                   cache_dir=Path(tmp) / "c")
        for i in range(len(ds)):
            ds.array(i), ds.mask(i)
        model = build_model(args.arch, 3, pretrained=False)
        amp = cpu_supports_bf16()
        cam_dataset(model, ds, Runtime("cpu", amp, True), batch_size=4,
                    method=args.method)  # warm-up
        rows = []
        for name, rt, batch in (
                ("one image at a time, fp32 (baseline)", Runtime("cpu", False, False), 1),
                (f"batched 16, {'bf16' if amp else 'fp32'}, channels_last (ours)",
                 Runtime("cpu", amp, True), 16)):
            t0 = time.perf_counter()
            cam_dataset(model, ds, rt, batch_size=batch, keep_maps=False, method=args.method)
            sec = time.perf_counter() - t0
            rows.append([name, len(ds), sec, len(ds) / sec])
    base = rows[0][3]
    print_table(["variant", "images", "seconds", "images/s", "vs baseline"],
                [[*r, r[3] / base] for r in rows],
                f"{args.method} + numbers ({args.arch}, {args.size} px, predicted and true class, "
                "occlusion included)")


if __name__ == "__main__":
    main()
