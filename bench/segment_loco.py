"""Leave-one-collection-out: the three-collection recipe against today's shipped U-Net.

Reads a finished ``hideseek segment crossval --group-by source`` run (each collection of
``configs/segment-three-collections.yaml`` held out in turn: its fold model never saw it) and
segments the same held-out images with the shipped model (or ``--baseline``), then prints per
collection: images (patients), mean Dice with a 95% patient-bootstrap interval (images resampled
where a collection has no patient ids), 5th percentile, for both; and the paired difference
(fold model minus baseline, per image) with its interval. The shipped model never saw Shenzhen
or COVID-QU-Ex; on the V7 collection it trained on most images, so that collection gets a second
row restricted to the shipped model's own test patients (``meta["test_files"]``), which neither
model saw. Dice per image at the image's resolution, after post-processing.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/segment_loco.py --crossval DIR
[--config configs/segment-three-collections.yaml] [--baseline default] [--json PATH]`` (the
baseline's Dice are stored in ``DIR/baseline-<collection>.json`` and reused while the model and
the images are unchanged; about 3 minutes on one core the first time).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.bootstrap import mean_interval
from hideseek.data import load_dataset
from hideseek.data.hashing import content_hash
from hideseek.naming import safe_name
from hideseek.protocol.freshness import read_stamped, stage_hash
from hideseek.segmentation import DEFAULT_MODEL, load_segmenter
from hideseek.segmentation.config import load_seg_config
from hideseek.segmentation.evaluate import evaluate_segmentation

ROOT = Path(__file__).parents[1]


def _model_file(model: str) -> Path:
    if model == DEFAULT_MODEL:
        return Path(str(resources.files("hideseek.segmentation") / "weights" / "unet_default.pt"))
    path = Path(model)
    return path / "best.pt" if path.is_dir() else path


def _baseline(data: Any, records: list[Any], model: str, out: Path) -> dict[str, float]:
    """The baseline model's per-image Dice on ``records`` (stamped, reused when unchanged)."""
    files = [data.image_path(r) for r in records] + [data.mask_path(r) for r in records]
    digest = stage_hash({"model": content_hash([_model_file(model)]),
                         "files": content_hash([f for f in files if f is not None])})
    found = read_stamped(out, digest)
    if found is not None:
        return {k: float(v) for k, v in found["per_image"].items()}
    result = evaluate_segmentation(data.with_records(records), model, workers=0)
    per_image = dict(result.report.per_image)
    out.write_text(json.dumps({"hash": digest, "per_image": per_image}))
    return per_image


def _row(name: str, new: dict[str, float], old: dict[str, float],
         patient_of: dict[str, str], image_level: bool) -> tuple[list[str], dict[str, Any]]:
    keys = sorted(set(new) & set(old))
    a, b = np.array([new[k] for k in keys]), np.array([old[k] for k in keys])
    groups = [patient_of.get(k, k) for k in keys]

    def summary(v: np.ndarray) -> dict[str, Any]:
        lo, hi = mean_interval(v, groups, 2000, 0)
        return {"mean": float(v.mean()), "ci": [lo, hi], "p5": float(np.percentile(v, 5))}

    s_new, s_old, diff = summary(a), summary(b), summary(a - b)
    unit = "images" if image_level else f"{len(set(groups))} patients"
    record = {"collection": name, "images": len(keys), "unit": unit, "new": s_new,
              "baseline": s_old, "difference": {"mean": diff["mean"], "ci": diff["ci"]}}
    cells = [name, f"{len(keys)} ({unit})",
             *(f"{s['mean']:.3f} ({s['ci'][0]:.3f}-{s['ci'][1]:.3f})" for s in (s_new, s_old)),
             f"{s_new['p5']:.3f} / {s_old['p5']:.3f}",
             f"{diff['mean']:+.4f} ({diff['ci'][0]:+.4f}, {diff['ci'][1]:+.4f})"]
    return cells, record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--crossval", required=True, help="a finished segment crossval folder")
    ap.add_argument("--config", default=str(ROOT / "configs" / "segment-three-collections.yaml"))
    ap.add_argument("--baseline", default="default")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    out = Path(args.crossval)
    result = json.loads((out / "crossval.json").read_text())
    config = load_seg_config(args.config)
    data = load_dataset(config.data, require_label=False)
    by_key = {r.key: r for r in data.records}
    test_files = set(load_segmenter(args.baseline)[2].get("test_files", []))
    rows, records = [], []
    for fold in result["folds"]:
        new = {k: float(v) for k, v in fold["per_image"].items()}
        held = [by_key[k] for k in new if k in by_key]
        old = _baseline(data, held, args.baseline,
                        out / f"baseline-{safe_name(fold['group'])}.json")
        patient_of = {r.key: r.patient_id for r in held}
        cells, record = _row(fold["group"], new, old, patient_of, fold.get("image_level", False))
        rows.append(cells)
        records.append(record)
        own = {r.key for r in held if r.filename in test_files}
        if own and len(own) < len(held):
            cells, record = _row(f"{fold['group']} (shipped model's test patients)",
                                 {k: new[k] for k in own}, {k: old[k] for k in own},
                                 patient_of, False)
            rows.append(cells)
            records.append(record)
    print_table(["held out", "images", "recipe (fold model) mean Dice (95% CI)",
                 "baseline mean Dice (95% CI)", "p5 fold / baseline",
                 "paired difference (95% CI)"], rows,
                f"leave-one-collection-out: {args.config} vs {args.baseline}")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
