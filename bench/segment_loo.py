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

Run: ``.venv/bin/python bench/segment_loo.py [--folds radiopaedia.org,eurorad.org]
[--image-size 256] [--epochs 120] [--variants 0,1,7,8] [--out /tmp/hideseek-loo]`` (the
shipped recipe: about 15 min per fold and recipe for radiopaedia.org, 25 for eurorad.org, on 2
CPU cores; two recipes side by side with ``OMP_NUM_THREADS=1`` each use the cores best).
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
from hideseek.bootstrap import mean_interval
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


def _rows(name: str, result: CrossvalResult, first: dict[str, dict[str, float]],
          patient_of: dict[str, str]) -> list[list[object]]:
    """Table rows; the paired difference against the run's first variant (same fold, same
    images; 95% patient-bootstrap interval of the mean per-image difference)."""
    rows: list[list[object]] = []
    for f in result.folds:
        base = first.setdefault(f.group, f.per_image)
        names = sorted(base)
        diff = [f.per_image[n] - base[n] for n in names]
        lo, hi = mean_interval(diff, [patient_of[n] for n in names])
        paired = "baseline" if base is f.per_image else \
            f"{sum(diff) / len(diff):+.4f} ({lo:+.4f}, {hi:+.4f})"
        rows.append([name, f.group, f.images, f.patients, f"{f.mean_dice:.3f}",
                     f"{f.ci[0]:.3f}-{f.ci[1]:.3f}", f"{f.p5_dice:.3f}", paired, f.best_epoch])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--folds", default="radiopaedia.org,eurorad.org",
                    help="held-out origins, comma-separated ('all': every group)")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=120)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--min-group", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default="0,1,7,8", help="indices into VARIANTS")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-loo"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = load_dataset(args.data, require_label=False)
    folds = None if args.folds == "all" else args.folds.split(",")
    rt = Runtime.auto()
    rows: list[list[object]] = []
    first: dict[str, dict[str, float]] = {}
    patient_of = {r.filename: r.patient_id or r.filename for r in data.records}
    for k in (int(v) for v in args.variants.split(",")):
        v = VARIANTS[k]
        config = SegTrainConfig(image_size=args.image_size, epochs=args.epochs, lr=args.lr,
                                base=args.base, batch_size=4, seed=args.seed,
                                exposure_augment=v.exposure, elastic_augment=v.elastic,
                                schedule=v.schedule)
        out = Path(args.out) / v.folder(args.image_size, args.epochs)
        result = leave_one_origin_out(data, out, config, min_group=args.min_group,
                                      folds=folds, tta=v.tta, runtime=rt)
        rows += _rows(v.name, result, first, patient_of)
        print(result.format(), flush=True)
    recipe = (f"U-Net depth 5 base {args.base}, {args.image_size} px, {args.epochs} epochs, "
              f"lr {args.lr:g}, batch 4, seed {args.seed}; val 15% of training-origin patients")
    print_table(["variant", "held-out origin", "images", "patients", "mean Dice", "95% CI",
                 "5th pct Dice", "paired diff. vs first (95% CI)", "best epoch"], rows,
                f"leave-one-origin-out lung Dice, shared segmentation pack ({recipe})")


if __name__ == "__main__":
    main()
