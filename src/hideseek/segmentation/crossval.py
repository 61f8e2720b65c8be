"""Leave-one-origin-out evaluation of the lung segmenter: does it hold on unseen hospitals?

Each fold holds out one group of images (a hospital / publisher: the manifest's ``origin``
column by default), trains a U-Net on the other groups with the usual training engine
(validation carved from the training groups' patients only) and tests it once on the held-out
group. Small groups are pooled into one ``other`` group. Every fold lives in its own folder and
carries content-hash stamps (config, images and masks by content, the sources of the training,
data and segmentation code), so a rerun reuses a finished fold only when its inputs are
unchanged and redoes it otherwise (an interrupted fold resumes from its last epoch).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.bootstrap import mean_interval
from hideseek.data.hashing import content_hash, source_hash
from hideseek.data.manifest import CXRDataset, Record
from hideseek.engine.checkpoint import STATE_NAME, training_finished
from hideseek.errors import DataError, HideseekError
from hideseek.jsonio import to_json, write_json
from hideseek.naming import safe_name
from hideseek.protocol.freshness import read_stamped, stage_hash
from hideseek.runtime import Runtime
from hideseek.segmentation.config import SegTrainConfig

__all__ = ["OTHER", "CrossvalResult", "FoldResult", "group_records", "leave_one_origin_out",
           "patient_bootstrap"]

log = logging.getLogger(__name__)

#: Name of the pooled group of origins smaller than ``min_group``.
OTHER = "other"


@dataclass(frozen=True)
class FoldResult:
    """One held-out group: per-image Dice and its summary.

    Attributes:
        group: Held-out group (an origin, or ``other``).
        images: Held-out images.
        patients: Held-out patients.
        mean_dice: Mean Dice over the held-out images (after post-processing).
        p5_dice: 5th percentile of the per-image Dice.
        ci: 95% patient-bootstrap interval of the mean Dice.
        per_image: Dice per held-out file name.
        n_train: Training images; n_val: validation images (from the training groups).
        best_epoch: Epoch of the checkpoint used (best validation Dice).
        reused: True when training and test came from an earlier run with the same inputs.
        left_out: Images of the training groups left out because their patient is held out.
        image_level: The held-out images have no patient ids: the interval resamples images.
    """

    group: str
    images: int
    patients: int
    mean_dice: float
    p5_dice: float
    ci: tuple[float, float]
    per_image: dict[str, float]
    n_train: int
    n_val: int
    best_epoch: int
    reused: bool = False
    left_out: int = 0
    image_level: bool = False


@dataclass(frozen=True)
class CrossvalResult:
    """All folds, which origins were pooled into ``other``, and the settings."""

    folds: list[FoldResult]
    pooled: dict[str, int] = field(default_factory=dict)
    group_by: str = "origin"
    tta: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (written to ``OUT/crossval.json``)."""
        return {"group_by": self.group_by, "tta": self.tta, "pooled_into_other": self.pooled,
                "config": self.config, "folds": to_json(self.folds)}

    def format(self) -> str:
        """A per-group text table, with the pooling said."""
        lines = [f"leave-one-{self.group_by}-out lung Dice (tta {'on' if self.tta else 'off'})",
                 f"{'held out':<28} {'images':>6} {'patients':>8} {'mean':>6} {'95% CI':>13} "
                 f"{'p5':>6}"]
        for f in self.folds:
            lines.append(f"{f.group:<28} {f.images:>6} {f.patients:>8} {f.mean_dice:>6.3f} "
                         f"{f.ci[0]:>6.3f}-{f.ci[1]:.3f} {f.p5_dice:>6.3f}"
                         + ("  (no patient ids: images resampled)" if f.image_level else "")
                         + ("  (reused)" if f.reused else ""))
        if self.pooled:
            shown = ", ".join(f"{k} {v}" for k, v in sorted(self.pooled.items()))
            lines.append(f"'{OTHER}' pools the {self.group_by}s with too few images: {shown}")
        return "\n".join(lines)


def _value(record: Record, group_by: str) -> str:
    if group_by in ("source", "label", "patient_id", "collection"):
        return str(getattr(record, group_by) or "")
    return record.extra.get(group_by, "")


def group_records(records: list[Record], group_by: str = "origin",
                  min_group: int = 5) -> tuple[dict[str, list[Record]], dict[str, int]]:
    """Records by group; groups with fewer than ``min_group`` images pooled into ``other``.

    Returns:
        (group -> records, sorted by size then name; pooled origin -> its image count).

    Raises:
        DataError: Some record has no value in the ``group_by`` column.
    """
    missing = [r.filename for r in records if not _value(r, group_by)]
    if missing:
        raise DataError(f"{len(missing)} image(s) have no {group_by!r} value (column missing "
                        f"or empty), e.g. {missing[0]}")
    counts = Counter(_value(r, group_by) for r in records)
    pooled = {g: n for g, n in counts.items() if n < min_group}
    groups: dict[str, list[Record]] = {}
    for r in records:
        g = _value(r, group_by)
        groups.setdefault(OTHER if g in pooled else g, []).append(r)
    order = sorted(groups, key=lambda g: (-len(groups[g]), g))
    return {g: groups[g] for g in order}, pooled


def patient_bootstrap(per_image: dict[str, float], patient_of: dict[str, str],
                      n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean per-image Dice, resampling patients with replacement."""
    names = list(per_image)
    return mean_interval([per_image[n] for n in names], [patient_of.get(n, n) for n in names],
                         n_boot, seed)


#: Subpackages / modules whose sources decide a fold's result (training, data, runtime): a
#: change to other parts of the package keeps finished folds, unlike
#: :func:`~hideseek.data.hashing.code_fingerprint` (the whole package).
_CODE_PARTS = ("segmentation", "engine", "data", "runtime.py")


def _files_hash(data: CXRDataset, records: list[Record]) -> str:
    images = [data.image_path(r) for r in records]
    masks = [data.mask_path(r) or Path(data.masks_folder(r) or "") / r.filename
             for r in records]
    return content_hash([*images, *masks])


def _train_fold(data: CXRDataset, train_records: list[Record], fold: Path,
                config: SegTrainConfig, runtime: Runtime | None,
                cache_dir: str | Path | None) -> tuple[dict[str, Any], str, bool]:
    """Train (or reuse / resume) the fold's U-Net; returns its summary, hash, and reuse."""
    from hideseek.segmentation.train import train_segmenter

    names = sorted((r.key, r.patient_id) for r in train_records)
    settings = config.model_dump(mode="json", exclude={"data", "keep_state"})
    digest = stage_hash({"config": settings, "records": names,
                         "files": _files_hash(data, train_records),
                         "code": source_hash(_CODE_PARTS)})
    run = fold / "train"
    stamp = read_stamped(fold / "inputs.json", digest)
    done = read_stamped(run / "train.json", digest) if stamp else None
    if done is not None:
        return done, digest, True
    # A fold of these inputs left either its resumable state or, finished, its record
    # (finished.json; last.pt is then dropped): resume it (a finished one trains nothing).
    resumable = (run / STATE_NAME).is_file() or training_finished(run)
    if run.exists() and (stamp is None or not resumable):
        log.info("%s: inputs changed or no checkpoint; training the fold afresh", fold)
        shutil.rmtree(run)
    fold.mkdir(parents=True, exist_ok=True)
    write_json(fold / "inputs.json", {"hash": digest, "train_images": len(names)})
    resume = run.exists() and resumable
    summary = train_segmenter(data.with_records(train_records), run, config, resume=resume,
                              runtime=runtime, cache_dir=cache_dir)
    summary["hash"] = digest
    write_json(run / "train.json", summary)
    return summary, digest, False


def _test_fold(data: CXRDataset, test_records: list[Record], fold: Path, train_hash: str,
               tta: bool, runtime: Runtime | None) -> tuple[dict[str, float], bool]:
    """Held-out per-image Dice (reused when the model and the held-out files are unchanged)."""
    from hideseek.segmentation.evaluate import evaluate_segmentation

    digest = stage_hash({"model": train_hash, "tta": tta,
                         "records": sorted(r.key for r in test_records),
                         "files": _files_hash(data, test_records)})
    path = fold / ("heldout-tta.json" if tta else "heldout.json")
    found = read_stamped(path, digest)
    if found is not None:
        return {k: float(v) for k, v in found["per_image"].items()}, True
    result = evaluate_segmentation(data.with_records(test_records), fold / "train",
                                   workers=0, runtime=runtime, tta=tta)
    per_image = dict(result.report.per_image)
    write_json(path, {"hash": digest, "tta": tta, "per_image": per_image})
    return per_image, False


def _training_records(groups: dict[str, list[Record]], held_out: str
                      ) -> tuple[list[Record], int]:
    """The other groups' records, less any image of a held-out patient (a patient whose images
    sit under two origins is tested, never trained on); and how many were left out."""
    held = {r.patient_id for r in groups[held_out]}
    others = [r for g, rs in groups.items() if g != held_out for r in rs]
    train = [r for r in others if r.patient_id not in held]
    if len(train) < len(others):
        log.warning("fold %s: %d training image(s) of held-out patients left out", held_out,
                    len(others) - len(train))
    return train, len(others) - len(train)


def _fold_config(config: SegTrainConfig, val_fraction: float) -> SegTrainConfig:
    if not 0 < val_fraction < 1:
        raise HideseekError(f"val_fraction must be in (0, 1), got {val_fraction}")
    return config.model_copy(update={"split": (1.0 - val_fraction, val_fraction, 0.0)})


def leave_one_origin_out(data: CXRDataset, out: str | Path, config: SegTrainConfig, *,
                         group_by: str = "origin", min_group: int = 5,
                         folds: list[str] | None = None, tta: bool = False,
                         val_fraction: float = 0.15, runtime: Runtime | None = None,
                         cache_dir: str | Path | None = None) -> CrossvalResult:
    """Train on all groups but one, test on the held-out one; one folder per fold in ``out``.

    Args:
        data: A pack with lung masks and a ``group_by`` column (e.g. ``origin``).
        out: Output folder: ``OUT/<group>/`` per fold, ``OUT/crossval.json`` overall.
        config: Training settings of every fold (its ``split`` is replaced: no test split,
            ``val_fraction`` of the training groups' patients for validation).
        group_by: Manifest column defining the groups.
        min_group: Groups with fewer images are pooled into one ``other`` group.
        folds: Only these held-out groups (default: all), e.g. ``["radiopaedia.org"]``.
        tta: Test-time augmentation on the held-out images.
        val_fraction: Share of the training groups' patients used for validation.

    Raises:
        DataError: No masks, a missing group value, or an unknown fold name.

    A patient with images under several groups is never trained on in the fold that holds one
    of them out: those training images are left out (counted in ``FoldResult.left_out``).
    """
    if not data.has_masks:
        raise DataError(f"{data.root}: no masks/ folder with the true lung masks")
    groups, pooled = group_records(data.records, group_by, min_group)
    unknown = sorted(set(folds or []) - set(groups))
    if unknown:
        raise DataError(f"unknown held-out group(s) {', '.join(unknown)}; groups: "
                        f"{', '.join(groups)}")
    fold_config, out = _fold_config(config, val_fraction), Path(out)
    results = []
    for group in folds or list(groups):
        held = groups[group]
        train, dropped = _training_records(groups, group)
        log.info("fold %s: train on %d images, test on %d", group, len(train), len(held))
        fold = out / safe_name(group)
        summary, digest, reused = _train_fold(data, train, fold, fold_config, runtime, cache_dir)
        per_image, test_reused = _test_fold(data, held, fold, digest, tta, runtime)
        results.append(_summarise(group, held, per_image, summary, reused and test_reused,
                                  dropped))
    result = CrossvalResult(results, pooled, group_by, tta, fold_config.model_dump(mode="json"))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "crossval.json", result.to_dict())
    return result


def _summarise(group: str, held: list[Record], per_image: dict[str, float],
               summary: dict[str, Any], reused: bool, dropped: int = 0) -> FoldResult:
    scores = np.array(list(per_image.values()))
    patient_of = {r.key: r.patient_id for r in held}
    # A dataset without patient ids names each image its own patient (its file name).
    image_level = all(r.image_is_patient for r in held)
    if image_level:
        log.info("fold %s: no patient ids; the interval resamples images", group)
    return FoldResult(group=group, images=len(held), patients=len(set(patient_of.values())),
                      mean_dice=float(scores.mean()), p5_dice=float(np.percentile(scores, 5)),
                      ci=patient_bootstrap(per_image, patient_of), per_image=per_image,
                      n_train=int(summary["n_train"]), n_val=int(summary["n_val"]),
                      best_epoch=int(summary["best_epoch"]), reused=reused,
                      left_out=dropped, image_level=image_level)
