"""The shipped lung segmenter on each mask collection: Dice, and its masks' convention measured.

For each collection of ``../shared/data`` (``segmentation``: V7 masks, the training collection;
``segmentation-shenzhen``; ``segmentation-quex``) the shipped model segments every image
(post-processed, original resolution) and :mod:`hideseek.segmentation.conventions` compares its
masks with the collection's own: mean Dice with a 95% patient-bootstrap interval (images
resampled where a collection has no patient ids), the area ratio predicted / true, and per
anatomical zone the signed disagreement (false positives - false negatives, % of the true lung
area): its mean and interval are the systematic part (a convention), its sd over images the
random part. Where the model trained on part of a collection, the images it held out (its
checkpoint's validation and test files) are a row of their own.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/segment_conventions.py [--model default]
[--masks-root DIR] [--json PATH]`` (about 3 minutes on one CPU core; ``--masks-root DIR`` reads
``DIR/<collection>/masks`` written by ``hideseek segment predict`` instead of predicting).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.data import load_dataset
from hideseek.runtime import Runtime
from hideseek.segmentation import load_segmenter
from hideseek.segmentation.conventions import (
    ZONES,
    CollectionConventions,
    Summary,
    measure_conventions,
)

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
COLLECTIONS = ("segmentation", "segmentation-shenzhen", "segmentation-quex")


def _pct(s: Summary) -> str:
    """``+4.1 (3.8, 4.4) sd 2.0``: a share in % of the true lung area."""
    return (f"{100 * s.mean:+.1f} ({100 * s.ci[0]:+.1f}, {100 * s.ci[1]:+.1f}) "
            f"sd {100 * s.sd:.1f}")


def _row_name(c: CollectionConventions, name: str) -> str:
    who = "no patient ids" if c.image_level else f"{c.patients} patients"
    return f"{name} ({c.images} images, {who})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="default")
    ap.add_argument("--masks-root", type=Path, help="DIR/<collection>/masks of segment predict")
    ap.add_argument("--collections", default=",".join(COLLECTIONS))
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    _, _, meta = load_segmenter(args.model)
    held_out = set(meta.get("val_files", [])) | set(meta.get("test_files", []))
    results: dict[str, CollectionConventions] = {}
    for name in args.collections.split(","):
        data = load_dataset(SHARED / name, require_label=False)
        masks = args.masks_root / name / "masks" if args.masks_root else None
        model = None if masks else args.model
        (c,) = measure_conventions(data, model, masks, runtime=Runtime.auto(device="cpu"),
                                   n_boot=args.n_boot).values()
        results[name] = c
        mine = [r for r in data.records if r.filename in held_out]
        if mine and len(mine) < len(data.records):  # the model's own held-out patients
            (h,) = measure_conventions(data.with_records(mine), model, masks,
                                       runtime=Runtime.auto(device="cpu"),
                                       n_boot=args.n_boot).values()
            results[f"{name}, held-out (val + test)"] = h
    print_table(["collection", "mean Dice (95% CI)", "5th pct Dice", "sd Dice"],
                [[_row_name(c, k), f"{c.dice.mean:.3f} ({c.dice.ci[0]:.3f}-{c.dice.ci[1]:.3f})",
                  f"{c.p5_dice:.3f}", f"{c.dice.sd:.3f}"] for k, c in results.items()],
                f"shipped model ({args.model}) per collection: lung Dice, original resolution, "
                "after post-processing")
    print_table(["collection", "area ratio pred/true", *ZONES],
                [[k, f"{c.area_ratio.mean:.3f} ({c.area_ratio.ci[0]:.3f}, "
                  f"{c.area_ratio.ci[1]:.3f}) sd {c.area_ratio.sd:.3f}",
                  *(_pct(c.signed[z]) for z in ZONES)] for k, c in results.items()],
                "signed disagreement by zone, FP - FN in % of the true lung area: mean (95% CI) "
                "= systematic; sd over images = random")
    print_table(["collection", *ZONES, "total"],
                [[k, *(f"{100 * c.unsigned[z].mean:.1f}" for z in ZONES),
                  f"{100 * sum(c.unsigned[z].mean for z in ZONES):.1f}"]
                 for k, c in results.items()],
                "unsigned disagreement by zone, FP + FN in % of the true lung area (mean)")
    if args.json:
        args.json.write_text(json.dumps({k: c.to_dict() for k, c in results.items()},
                                        indent=2))


if __name__ == "__main__":
    main()
