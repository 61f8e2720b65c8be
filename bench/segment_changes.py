"""How much a new lung segmenter changes the masks of data without reference masks.

Both models segment every image of a dataset (default: the shared classification pack, which
has no true masks) the way ``segment predict`` does (the model's input size, post-processed:
two largest components, holes filled, at the image's own resolution); the table gives per
source the Dice between the two masks (mean with a patient-bootstrap 95% interval, 5th
percentile, the share under 0.9) and the area ratio new / old. The ``--overlays`` largest
changes are drawn (the image, the old mask's outline in orange, the new one's in cyan) into
``--out`` for a look at which is right.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/segment_changes.py --new PATH [--old default]
[--data ../shared/data/classification] [--overlays 8] [--out DIR]`` (about 2 minutes per model
on one core for the 433 images).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _overlay import draw_outlines, model_masks
from _table import print_table
from hideseek.bootstrap import mean_interval
from hideseek.data import load_dataset
from hideseek.segmentation.metrics import dice

SHARED = Path(__file__).parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--new", required=True)
    ap.add_argument("--old", default="default")
    ap.add_argument("--data", default=str(SHARED / "classification"))
    ap.add_argument("--overlays", type=int, default=8)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-mask-changes"))
    args = ap.parse_args()
    data = load_dataset(args.data, require_label=False)
    records = data.records
    paths = [data.image_path(r) for r in records]
    old, new = model_masks(args.old, paths), model_masks(args.new, paths)
    scores = np.array([dice(n, o) for n, o in zip(new, old, strict=True)])
    ratio = np.array([n.sum() / max(1, o.sum()) for n, o in zip(new, old, strict=True)])
    rows, summary = [], []
    for source in sorted({r.source or "-" for r in records}):
        pick = [i for i, r in enumerate(records) if (r.source or "-") == source]
        lo, hi = mean_interval(scores[pick], [records[i].patient_id for i in pick], 2000, 0)
        s: dict[str, Any] = {"source": source, "images": len(pick),
                             "dice": float(scores[pick].mean()), "ci": [lo, hi],
                             "p5": float(np.percentile(scores[pick], 5)),
                             "under_0.9": float((scores[pick] < 0.9).mean()),
                             "area_ratio": float(np.median(ratio[pick]))}
        summary.append(s)
        rows.append([source, str(len(pick)), f"{s['dice']:.3f} ({lo:.3f}-{hi:.3f})",
                     f"{s['p5']:.3f}", f"{s['under_0.9']:.1%}", f"{s['area_ratio']:.3f}"])
    print_table(["source", "images", "Dice new vs old (95% CI)", "p5", "Dice < 0.9",
                 "median area new / old"], rows, f"masks of {args.new} against {args.old} "
                f"on {args.data}")
    out = Path(args.out)
    worst = np.argsort(scores)[: args.overlays]
    for rank, i in enumerate(worst):
        r = records[i]
        title = (f"{r.filename} ({r.source}): Dice {scores[i]:.3f}, "
                 f"area new/old {ratio[i]:.2f}")
        drawn = draw_outlines(paths[i], [(old[i], "orange"), (new[i], "cyan")], title,
                              out / f"{rank:02d}-{Path(r.filename).stem}.png")
        print(f"overlay {drawn}")
    (out / "changes.json").write_text(json.dumps({"summary": summary, "per_image": {
        r.key: float(d) for r, d in zip(records, scores, strict=True)}}, indent=1))


if __name__ == "__main__":
    main()
