"""Leave-one-collection-out, or a model's own held-out images: a U-Net against the shipped one.

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
the images are unchanged; about 3 minutes on one core the first time). ``--overlays N --out
DIR`` draws each fold's N worst held-out images (true mask yellow, fold model cyan, baseline
orange) for a look at who is right (with ``--model`` too: that model's worst).

With ``--model PATH`` instead of ``--crossval``: one model trained on several collections (e.g.
the shipped ``three-collections``) on its own held-out images of each collection (its
checkpoint's ``meta["val_files"]`` and ``meta["test_files"]``: patients it never trained on),
paired with the baseline on the same images; the V7 collection gets a second row restricted to
the images neither model trained on (held out by both). Dice are stored under ``--cache DIR``
and reused while model and images are unchanged. ``--tta`` segments the model's side with
test-time augmentation: ``--model three-collections --baseline three-collections --tta`` is the
paired TTA gain on the same images.

``--qc`` (with ``--crossval``): each fold model also segments its held-out images as ``segment
predict`` does (``DIR/qc-<collection>/regions.csv``, resumable), and a second table says how
well the quality-control flags catch its failures on a collection it never saw: the share
flagged, the share of failures (Dice < 0.8) flagged, mean Dice flagged / not, and the mean and
5th percentile of the masks that ``on_bad_mask: exclude-flagged`` would keep.

``--reading CSV [CSV ...]`` (with ``--crossval --qc``): a reader's verdict on each failure,
looked at in its overlay (columns ``collection, filename, reading``; e.g.
``bench/readings/covid-qu-ex-fold.csv``; ``--overlays 200`` draws them): a third table counts
each reading (and the images not read), how many lie in the collection's worst 5%, how many the
QC flags caught, and their share of the gap between the mean Dice and 0.95 - which failures are
the model's errors and which the reference's tracing.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
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
from hideseek.data.hashing import content_hash
from hideseek.data.io import read_mask
from hideseek.naming import safe_name
from hideseek.protocol.freshness import read_stamped, stage_hash
from hideseek.segmentation import load_segmenter, shipped_model_path
from hideseek.segmentation.config import load_seg_config
from hideseek.segmentation.evaluate import evaluate_segmentation
from hideseek.segmentation.predict import predict_dataset, read_regions

ROOT = Path(__file__).parents[1]


def _model_file(model: str) -> Path:
    path = shipped_model_path(model) or Path(model)
    return path / "best.pt" if path.is_dir() else path


def _held_out(model: str) -> set[str]:
    """File names a model never trained on (its checkpoint's validation and test files)."""
    meta = load_segmenter(model)[2]
    return set(meta.get("val_files", [])) | set(meta.get("test_files", []))


def _digest(data: Any, records: list[Any], model: str | Path, tta: bool = False) -> str:
    """The stamp of a model's results on ``records``: the model's and the files' contents."""
    files = [data.image_path(r) for r in records] + [data.mask_path(r) for r in records]
    return stage_hash({"model": content_hash([_model_file(str(model))]),
                       "files": content_hash([f for f in files if f is not None]),
                       **({"tta": True} if tta else {})})


def _dice(data: Any, records: list[Any], model: str, out: Path, tta: bool = False
          ) -> dict[str, float]:
    """A model's per-image Dice on ``records`` (stamped in ``out``, reused when unchanged)."""
    digest = _digest(data, records, model, tta)
    found = read_stamped(out, digest)
    if found is not None:
        return {k: float(v) for k, v in found["per_image"].items()}
    result = evaluate_segmentation(data.with_records(records), model, workers=0, tta=tta)
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


Row = tuple[list[str], dict[str, Any]]

#: ``--qc``: a held-out mask below this Dice counts as a failure the flags should catch (as in
#: the QC section of MODEL_CARD.md).
FAILURE_DICE = 0.8


def _qc_flags(data: Any, records: list[Any], model: Path, out: Path) -> dict[str, bool]:
    """Whether ``segment predict``'s QC flagged ``model``'s mask, per image file name (the masks
    are stamped in ``out``: reused, or resumed, while model and images are unchanged)."""
    digest = _digest(data, records, model)
    if read_stamped(out / "inputs.json", digest) is None:  # new, or model / images changed
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        (out / "inputs.json").write_text(json.dumps({"hash": digest}))
    if not (out / "regions.csv").exists():
        net, size, meta = load_segmenter(model)
        predict_dataset(data.with_records(records), out, net, size, workers=0,
                        qc_ranges=meta.get("qc_ranges"))
    return {name: row["flagged"] == "1" for name, row in read_regions(out / "regions.csv").items()}


def _qc_row(records: list[Any], dice: dict[str, float], flags: dict[str, bool], name: str
            ) -> list[str]:
    """How the QC ``flags`` of a model's masks sort its good and bad ones."""
    by_key = {r.key: flags[r.filename] for r in records}
    keys = sorted(set(dice) & set(by_key))
    flagged = np.array([by_key[k] for k in keys])
    d = np.array([dice[k] for k in keys])
    failed = d < FAILURE_DICE
    kept = d[~flagged]

    def mean(v: np.ndarray) -> str:
        return f"{v.mean():.3f}" if v.size else "-"

    return [name, str(len(keys)), f"{flagged.sum()} ({flagged.mean():.1%})",
            f"{(flagged & failed).sum()} of {failed.sum()}",
            f"{mean(d[flagged])} / {mean(kept)}",
            f"{kept.mean():.3f}, {np.percentile(kept, 5):.3f}" if kept.size else "-"]


#: ``--reading``: each reading's share of the gap between the mean Dice and this target.
TARGET_DICE = 0.95


#: ``--reading``: a CSV's rows (collection, filename, reading), with the CSV they came from.
Readings = list[tuple[Path, list[dict[str, str]]]]


def _read_readings(paths: list[str], groups: set[str], crossval: Path) -> Readings:
    """``--reading``: each CSV's rows, read once; refused when a CSV lacks a column or names a
    collection that is no fold of ``crossval``."""
    found: Readings = []
    for path in map(Path, paths):
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"collection", "filename", "reading"} - set(reader.fieldnames or [])
            if missing:
                raise SystemExit(f"{path}: no column {sorted(missing)[0]!r} (a reading has "
                                 f"collection, filename, reading)")
            rows = list(reader)
        strange = {r["collection"] for r in rows} - groups
        if strange:
            raise SystemExit(f"{path}: collection {sorted(strange)[0]!r} is no fold of "
                             f"{crossval} (folds: {', '.join(sorted(groups))})")
        found.append((path, rows))
    return found


def _reading_rows(readings: Readings, group: str, dice: dict[str, float],
                  flags: dict[str, bool]) -> list[list[str]]:
    """``--reading``: per reading of ``group``'s images (and the images not read): how many, in
    the worst 5%, flagged, and their share of the gap to :data:`TARGET_DICE` (sum over them of
    target - Dice, divided by all held-out images)."""
    by_name = {Path(k).name: v for k, v in dice.items()}
    read: dict[str, str] = {}
    for path, entries in readings:
        mine = {r["filename"]: r["reading"] for r in entries if r["collection"] == group}
        unknown = sorted(set(mine) - set(by_name))
        if unknown:
            raise SystemExit(f"{path}: {len(unknown)} file(s) not held out in fold {group}, "
                             f"e.g. {unknown[0]}")
        read.update(mine)
    if not read:
        return []
    worst = np.percentile(list(by_name.values()), 5)
    groups: dict[str, list[str]] = {}
    for name in by_name:
        groups.setdefault(read.get(name, "(not read)"), []).append(name)
    rows = []
    for what, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        d = np.array([by_name[n] for n in names])
        flagged = sum(flags[n] for n in names)
        share = (TARGET_DICE - d).sum() / len(by_name)
        rows.append([group, what, str(len(names)), str(int((d <= worst).sum())),
                     f"{flagged} of {len(names)}", f"{share:+.4f}"])
    return rows


def _draw_worst(data: Any, model: str | Path, group: str, new: dict[str, float],
                old: dict[str, float], args: argparse.Namespace) -> None:
    """The ``--overlays`` worst held-out images of ``group`` by ``new``: true mask yellow,
    ``model`` cyan, the baseline orange, into ``--out/<group>/``."""
    by_key = {r.key: r for r in data.records}
    worst = sorted(new, key=lambda k: new[k])[: args.overlays]
    records = [by_key[k] for k in worst]
    paths = [data.image_path(r) for r in records]
    fold_masks, base_masks = model_masks(model, paths), model_masks(args.baseline, paths)
    for rank, (r, path, a, b) in enumerate(zip(records, paths, fold_masks, base_masks,
                                                strict=True)):
        truth = read_mask(data.mask_path(r), a.shape)
        title = (f"{r.filename} ({r.label})\nDice model {new[r.key]:.3f}, "
                 f"{args.baseline} {old.get(r.key, float('nan')):.3f}, "
                 f"area model/true {a.sum() / max(1, truth.sum()):.2f}")
        drawn = draw_outlines(path, [(truth, "yellow"), (b, "orange"), (a, "cyan")], title,
                              Path(args.out) / safe_name(group) /
                              f"{rank:02d}-{Path(r.filename).stem}.png")
        print(f"overlay {drawn}")


#: A table printed after the main one: headers, rows, title.
Table = tuple[list[str], list[list[str]], str]


def _crossval_rows(data: Any, args: argparse.Namespace) -> tuple[list[Row], list[Table]]:
    """Each fold's held-out collection: the fold model against the baseline (and the ``--qc`` and
    ``--reading`` tables)."""
    out = Path(args.crossval)
    result = json.loads((out / "crossval.json").read_text())
    by_key = {r.key: r for r in data.records}
    test_files = set(load_segmenter(args.baseline)[2].get("test_files", []))
    rows, qc_rows, reading_rows = [], [], []
    readings = _read_readings(args.reading or [], {fold["group"] for fold in result["folds"]},
                              out / "crossval.json")
    for fold in result["folds"]:
        new = {k: float(v) for k, v in fold["per_image"].items()}
        held = [by_key[k] for k in new if k in by_key]
        old = _dice(data, held, args.baseline, out / f"baseline-{safe_name(fold['group'])}.json")
        patient_of = {r.key: r.patient_id for r in held}
        rows.append(_row(fold["group"], new, old, patient_of, fold.get("image_level", False)))
        fold_model = out / safe_name(fold["group"]) / "train" / "best.pt"
        if args.overlays:
            _draw_worst(data, fold_model, fold["group"], new, old, args)
        if args.qc:
            flags = _qc_flags(data, held, fold_model, out / f"qc-{safe_name(fold['group'])}")
            qc_rows.append(_qc_row(held, new, flags, fold["group"]))
            if args.reading:
                reading_rows += _reading_rows(readings, fold["group"], new, flags)
        own = {r.key for r in held if r.filename in test_files}
        if own and len(own) < len(held):
            rows.append(_row(f"{fold['group']} (shipped model's test patients)",
                             {k: new[k] for k in own}, {k: old[k] for k in own},
                             patient_of, False))
    tables: list[Table] = []
    if qc_rows:
        tables.append((["held out", "images", "flagged", "failures (Dice < 0.8) flagged",
                        "mean Dice flagged / not", "kept by exclude-flagged: mean, p5"], qc_rows,
                       f"quality control of the fold models' masks on their held-out collection "
                       f"(failure: Dice < {FAILURE_DICE})"))
    if reading_rows:
        tables.append((["held out", "reading", "images", "in the worst 5%", "flagged",
                        f"share of the gap to {TARGET_DICE}"], reading_rows,
                       f"the failures as read in their overlays ({', '.join(args.reading)})"))
    return rows, tables


def _model_rows(data: Any, args: argparse.Namespace) -> list[Row]:
    """Each collection's images the model never trained on: the model against the baseline."""
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    mine, theirs = _held_out(args.model), _held_out(args.baseline)
    rows = []
    for collection in dict.fromkeys(r.collection for r in data.records):
        held = [r for r in data.records if r.collection == collection and r.filename in mine]
        if not held:
            continue
        name = safe_name(collection or "data")
        new = _dice(data, held, args.model,
                    cache / f"model{'-tta' if args.tta else ''}-{name}.json", args.tta)
        old = _dice(data, held, args.baseline, cache / f"baseline-{name}.json")
        patient_of = {r.key: r.patient_id for r in held}
        image_level = all(r.image_is_patient for r in held)
        both = {r.key for r in held if r.filename in theirs}
        alike = len(both) == len(held)  # the baseline never trained on these images either
        rows.append(_row(f"{collection} (held out{' by both models' if alike else ''})", new,
                         old, patient_of, image_level))
        if args.overlays:
            _draw_worst(data, args.model, collection or "data", new, old, args)
        if both and not alike:
            rows.append(_row(f"{collection} (held out by both models)",
                             {k: new[k] for k in both}, {k: old[k] for k in both},
                             patient_of, image_level))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--crossval", help="a finished segment crossval folder")
    source.add_argument("--model", help="a model trained on several collections: its own "
                        "held-out images of each, against the baseline")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "hideseek-loco"),
                    help="where --model stores per-image Dice")
    ap.add_argument("--config", default=str(ROOT / "configs" / "segment-three-collections.yaml"))
    ap.add_argument("--baseline", default="default")
    ap.add_argument("--tta", action="store_true",
                    help="--model: segment with test-time augmentation (the baseline without); "
                    "with --baseline set to the same model this measures the TTA gain")
    ap.add_argument("--qc", action="store_true",
                    help="--crossval: how the QC flags of each fold model's masks catch its "
                    "failures on the collection it never saw")
    ap.add_argument("--reading", nargs="+",
                    help="--crossval --qc: readers' CSVs (collection, filename, reading) of the "
                    "failures: each reading counted, in the worst 5%%, flagged, share of the gap")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--overlays", type=int, default=0,
                    help="draw the N worst held-out images of each collection into --out "
                    "(true mask yellow, the model cyan, the baseline orange)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-loco-worst"))
    args = ap.parse_args()
    if args.reading and not (args.crossval and args.qc):
        ap.error("--reading needs --crossval and --qc")
    config = load_seg_config(args.config)
    data = load_dataset(config.data, require_label=False)
    rows_records, tables = (_crossval_rows(data, args) if args.crossval
                            else (_model_rows(data, args), []))
    rows, records = [r for r, _ in rows_records], [r for _, r in rows_records]
    what = (f"leave-one-collection-out: {args.config}" if args.crossval
            else f"{args.model}{' + TTA' if args.tta else ''} on its own held-out images")
    print_table(["held out", "images", "new (fold) model mean Dice (95% CI)",
                 "baseline mean Dice (95% CI)", "p5 new / baseline",
                 "paired difference (95% CI)"], rows, f"{what} vs {args.baseline}")
    for headers, table_rows, title in tables:
        print_table(headers, table_rows, title)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
