"""Leave-one-origin-out lung Dice: the training recipe without vs with the improvements.

Each variant trains one U-Net per held-out origin (hospital / publisher) of the shared
segmentation pack on the other origins (validation from the training origins' patients) and
tests it once on the held-out origin: images, mean Dice with a 95% patient-bootstrap interval,
5th-percentile Dice. Baseline: the current recipe (geometry + mild intensity jitter, constant
learning rate, one forward pass). Improved: + exposure / contrast augmentation, + elastic
deformation, + cosine learning-rate decay, + test-time augmentation (flip, scale, gamma
views). All variants use the same folds, seed, epochs and resolution, in one run; folds are
resumable (``--out`` keeps one folder per training recipe and fold; unchanged inputs are
reused).

Run: ``nice -n 10 .venv/bin/python bench/segment_loo.py [--folds radiopaedia.org,eurorad.org]
[--image-size 128] [--epochs 40] [--out /tmp/hideseek-loo]``
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Literal, NamedTuple

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.data import load_dataset
from hideseek.runtime import Runtime
from hideseek.segmentation import SegTrainConfig
from hideseek.segmentation.crossval import CrossvalResult, leave_one_origin_out

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "segmentation"

class Variant(NamedTuple):
    """A training recipe (and whether test-time augmentation is used on it)."""

    name: str
    exposure: bool = False
    elastic: bool = False
    schedule: Literal["constant", "cosine"] = "constant"
    tta: bool = False

    def folder(self, size: int, epochs: int) -> str:
        """One folder per training recipe: TTA variants share their recipe's trained folds."""
        return (f"{size}px-{epochs}ep-exposure{int(self.exposure)}"
                + ("-elastic" if self.elastic else "")
                + ("" if self.schedule == "constant" else f"-{self.schedule}"))


#: The first is the baseline (the shipped model's recipe).
VARIANTS = [
    Variant("baseline (current recipe)"),
    Variant("+ TTA", tta=True),
    Variant("+ exposure aug", exposure=True),
    Variant("+ exposure aug + TTA", exposure=True, tta=True),
    Variant("+ cosine lr", schedule="cosine"),
    Variant("+ exposure aug + cosine lr", exposure=True, schedule="cosine"),
    Variant("+ exposure aug + cosine lr + TTA", exposure=True, schedule="cosine", tta=True),
    Variant("+ elastic deformation", elastic=True),
    Variant("+ elastic deformation + TTA", elastic=True, tta=True),
]


def _rows(name: str, result: CrossvalResult) -> list[list[object]]:
    rows: list[list[object]] = []
    for f in result.folds:
        rows.append([name, f.group, f.images, f.patients, f"{f.mean_dice:.3f}",
                     f"{f.ci[0]:.3f}-{f.ci[1]:.3f}", f"{f.p5_dice:.3f}", f.best_epoch])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--folds", default="radiopaedia.org,eurorad.org",
                    help="held-out origins, comma-separated ('all': every group)")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--min-group", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="0,1,2,3", help="indices into VARIANTS")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-loo"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = load_dataset(args.data, require_label=False)
    folds = None if args.folds == "all" else args.folds.split(",")
    rt = Runtime.auto()
    rows: list[list[object]] = []
    for k in (int(v) for v in args.variants.split(",")):
        v = VARIANTS[k]
        config = SegTrainConfig(image_size=args.image_size, epochs=args.epochs, lr=args.lr,
                                base=args.base, batch_size=4, seed=args.seed,
                                exposure_augment=v.exposure, elastic_augment=v.elastic,
                                schedule=v.schedule)
        out = Path(args.out) / v.folder(args.image_size, args.epochs)
        result = leave_one_origin_out(data, out, config, min_group=args.min_group,
                                      folds=folds, tta=v.tta, runtime=rt)
        rows += _rows(v.name, result)
        print(result.format(), flush=True)
    recipe = (f"U-Net depth 5 base {args.base}, {args.image_size} px, {args.epochs} epochs, "
              f"lr {args.lr:g}, batch 4, seed {args.seed}; val 15% of training-origin patients")
    print_table(["variant", "held-out origin", "images", "patients", "mean Dice", "95% CI",
                 "5th pct Dice", "best epoch"], rows,
                f"leave-one-origin-out lung Dice, shared segmentation pack ({recipe})")


if __name__ == "__main__":
    main()
