"""``hideseek audit``: one trained model tested on every representation, with matched controls.

Hiding the lungs changes two things at once: the lung evidence disappears, and the image
gets a large filled region the model never saw in training (distribution shift). To separate the
two, every representation that hides the lungs gets a **matched control**: an equal area,
filled the same way, placed outside the hidden region (see :class:`ControlRegion`). The audit
reports drop(hide the lungs) minus drop(hide an equal area elsewhere), paired per image, with a
patient-level bootstrap interval, and gives a verdict on this one model (rule: docs/AUDIT.md).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.classification.audit_stats import AuditEffects, audit_effects, audit_verdict
from hideseek.classification.config import config_from_meta
from hideseek.classification.data import representation_dataset, usable_records
from hideseek.classification.evaluate import (
    Predictions,
    _open,
    _predict,
    format_cell,
    select_records,
)
from hideseek.classification.stats import paired_comparison
from hideseek.data.cache import default_cache_dir
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.jsonio import to_json
from hideseek.models.adapter import ModelAdapter
from hideseek.models.spec import ModelSpec
from hideseek.representations.transforms import (
    FILLS,
    REPRESENTATIONS,
    apply_representation,
    visible_region,
)
from hideseek.runtime import Runtime

__all__ = ["AuditInputs", "ControlRegion", "audit", "control_region", "format_audit",
           "hides_lungs"]

log = logging.getLogger(__name__)


def hides_lungs(name: str) -> bool:
    """Whether representation ``name`` hides the whole lung mask but not the whole image."""
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:24, 5:14] = True
    mask[8:24, 18:27] = True
    try:
        keep = visible_region(name, mask)
    except ValueError:
        return False
    return bool(keep.any() and not (keep & mask).any())


def control_region(image: np.ndarray, hidden: np.ndarray, seed: int,
                   block: int | None = None) -> np.ndarray:
    """The matched control of a hidden region: square blocks that do not touch ``hidden``, as
    many as make up its area (to within one block), chosen by how close each block's mean
    intensity is to the hidden region's (ties broken at random, seeded).

    Matching the intensity matches the size of the change the fill makes (a block of air
    background filled with zero changes nothing, a block of soft tissue changes a lot), so the
    control disturbs the image as much as hiding the lungs does, just elsewhere. ``block``
    defaults to 1/8 of the image side (at least 4 pixels).
    """
    h, w = hidden.shape
    side = block or max(4, min(h, w) // 8)
    target = int(hidden.sum())
    cells = [(y, x) for y in range(0, h, side) for x in range(0, w, side)
             if not hidden[y : y + side, x : x + side].any()]
    out = np.zeros((h, w), dtype=bool)
    if not target or not cells:
        return out
    level = float(image[hidden].mean())
    jitter = np.random.default_rng(seed).random(len(cells)) * 1e-6
    score = [abs(float(image[y : y + side, x : x + side].mean()) - level) for y, x in cells]
    for k in np.argsort(np.asarray(score) + jitter):
        if out.sum() >= target:
            break
        y, x = cells[k]
        out[y : y + side, x : x + side] = True
    return out


@dataclass(frozen=True)
class ControlRegion:
    """The matched control of a hiding representation as an (image, mask) -> image callable.

    The region the representation ``name`` hides is computed from the mask; the same number of
    pixels outside it (:func:`control_region`; seeded by the mask, so every call and every model
    sees the same control) is filled with ``fill`` exactly as the representation fills its own.

    Attributes:
        name: The hiding representation (e.g. ``lungs_removed``).
        fill: Fill name, passed through to :func:`apply_representation`.
        box_margin: Pixels added around each lung box.
        guard: Rim hidden next to the hidden region (as the representation's).
        seed: Base seed of the block placement.
    """

    name: str
    fill: str = "zero"
    box_margin: int = 0
    guard: int = 0
    seed: int = 0

    def region(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The control region for this image and lung mask."""
        hidden = ~visible_region(self.name, mask, self.box_margin, guard=self.guard)
        digest = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=4).digest()
        return control_region(image, hidden | mask.astype(bool),
                              self.seed + int.from_bytes(digest, "little"))

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # "lungs_removed" of the control region: hides exactly that region with this fill.
        return apply_representation("lungs_removed", image, self.region(image, mask),
                                    self.fill)


@dataclass
class AuditInputs:
    """What every prediction of one audit shares: the model, its metadata and the test set."""

    model: ModelAdapter
    meta: dict[str, Any]
    data: CXRDataset
    records: list[Record]
    masks_dir: Path
    originals: set[str]
    runtime: Runtime
    cache_dir: str | Path
    batch_size: int
    fill: str

    def predict(self, representation: str, control: bool = False) -> Predictions:
        """Predictions on one representation (or on its matched control)."""
        margin = config_from_meta(self.meta, representation).box_margin
        ctrl = ControlRegion(representation, self.fill, margin, guard=1) if control else None
        tag = f"{representation} control" if control else representation
        return _predict(self.model, self.meta, self.data, self.records, representation,
                        self.masks_dir, self.originals, self.runtime, self.cache_dir,
                        self.batch_size, fill=self.fill, pair_transform=ctrl,
                        desc=f"predict {tag}")


def _inputs(model_path: str | Path | None, data: CXRDataset, masks_dir: str | Path, split: str,
            arch: str | None, runtime: Runtime | None, cache_dir: str | Path | None,
            batch_size: int, on_bad_mask: str, fill: str | None, spec: ModelSpec | None = None,
            adapter: ModelAdapter | None = None, external: bool = False) -> AuditInputs:
    if fill is not None and fill not in FILLS:
        raise HideseekError(f"unknown fill {fill!r}; choose from {', '.join(FILLS)}")
    model, model_dir = _open(model_path, arch, spec, adapter)
    meta = model.meta
    mdir = Path(masks_dir)
    usable, originals = usable_records(data, mdir, on_bad_mask)
    records = select_records(data.with_records(usable), model_dir, split, external=external)
    if not records:
        raise HideseekError(f"no {split} images to audit in {data.root}")
    if config_from_meta(meta, "data").target != "label":
        raise HideseekError(f"{model_path}: the audit needs a label classifier, not a "
                            "source probe")
    trained_fill = config_from_meta(meta, "data").fill
    return AuditInputs(model, meta, data, records, mdir, originals, runtime or Runtime.auto(),
                       default_cache_dir() if cache_dir is None else cache_dir, batch_size,
                       fill or trained_fill)


def _effects_json(e: AuditEffects) -> dict[str, Any]:
    return {"drop": e.drop.to_json(), "control_drop": e.control_drop.to_json(),
            "net_drop": e.net_drop.to_json(), "hidden_balanced_accuracy": e.hidden.to_json(),
            "probability": {"drop": e.prob_drop.to_json(),
                            "control_drop": e.prob_control_drop.to_json(),
                            "net_drop": e.prob_net_drop.to_json()},
            "control_area_ratio": e.control_area_ratio}


def audit(model_path: str | Path | None, data: CXRDataset, masks_dir: str | Path,
          representations: tuple[str, ...] = REPRESENTATIONS, split: str = "test",
          arch: str | None = None, runtime: Runtime | None = None,
          cache_dir: str | Path | None = None, batch_size: int = 32, n_boot: int = 1000,
          on_bad_mask: str = "exclude", fill: str | None = None, controls: bool = True,
          min_effect: float = 0.10, seed: int = 0, *, spec: ModelSpec | None = None,
          adapter: ModelAdapter | None = None,
          external: bool = False) -> tuple[dict[str, Any], dict[str, Predictions]]:
    """Test one trained model on every representation of the same test images (no retraining).

    Each representation is compared with ``data`` (McNemar exact test, paired bootstrap of the
    accuracy difference). Each one that hides the lungs is also compared with its matched
    control; the net drop (balanced accuracy and true-class probability) and the audit's
    verdict on this one model are added (docs/AUDIT.md).

    Args:
        fill: Fill of the hidden region; default: the fill the model was trained with.
        controls: Run the matched controls and give ``audit_verdict``.
        min_effect: Smallest net drop / skill above chance (balanced accuracy) that counts.
        seed: Seed of the patient bootstrap.
        external: Audit every image as data the model never saw (refused on a patient overlap
            with the model's training / validation split).

    Returns:
        The JSON result (``representations``, ``vs_data``, ``audit_verdict``, ``audit`` ...)
        and the predictions per representation (controls as ``<name>_control``).
    """
    inp = _inputs(model_path, data, masks_dir, split, arch, runtime, cache_dir, batch_size,
                  on_bad_mask, fill, spec, adapter, external)
    reps = tuple(dict.fromkeys(("data", *representations)))
    preds = {rep: inp.predict(rep) for rep in reps}
    hidden = [rep for rep in reps if controls and hides_lungs(rep)]
    for rep in hidden:
        preds[f"{rep}_control"] = inp.predict(rep, control=True)
    groups = [r.patient_id for r in inp.records]
    base = preds["data"]
    result: dict[str, Any] = {
        "arch": inp.meta.get("arch"), "split": split, "n": len(inp.records),
        "trained_on": inp.meta.get("config", {}).get("representation"), "fill": inp.fill,
        "representations": {rep: to_json(preds[rep].metrics(n_boot)) for rep in reps},
        "vs_data": {rep: to_json(paired_comparison(base.y, base.pred, preds[rep].pred, groups,
                                                   n_boot))
                    for rep in reps if rep != "data"},
    }
    if controls:
        effects = {rep: audit_effects(base, preds[rep], preds[f"{rep}_control"], groups,
                                      n_boot, seed, n_decisions=max(1, 2 * len(hidden)),
                                      area_ratio=_area_ratio(inp, rep))
                   for rep in hidden}
        for rep, e in effects.items():
            result["vs_data"][rep].update(_effects_json(e))
        decision = audit_verdict(base, effects, groups, n_boot, seed, min_effect)
        result["audit_verdict"] = decision.verdict
        result["audit"] = decision.to_json()
    return result, preds


def _area_ratio(inp: AuditInputs, rep: str, sample: int = 16) -> float | None:
    """Mean control area / hidden area over (up to) ``sample`` test images."""
    cfg = config_from_meta(inp.meta, rep)
    ds = representation_dataset(inp.data, inp.records[:sample],
                                cfg.model_copy(update={"representation": "data"}),
                                inp.masks_dir, inp.cache_dir, train=False)
    ctrl = ControlRegion(rep, inp.fill, cfg.box_margin, guard=1)
    ratios = []
    for i in range(len(ds)):
        mask = ds.mask(i)
        hidden = int((~visible_region(rep, mask, cfg.box_margin, guard=1)).sum())
        if hidden:
            ratios.append(int(ctrl.region(ds.array(i), mask).sum()) / hidden)
    return float(np.mean(ratios)) if ratios else None


def format_audit(result: dict[str, Any]) -> str:
    """The matched-control table and the audit's verdict, for the CLI."""
    a = result["audit"]
    lines = ["matched controls (balanced accuracy; drop = data minus version, net = drop minus "
             f"the control's; {a['level']:.1%} patient-bootstrap intervals)",
             f"{'representation':<16} {'drop':<22} {'control drop':<22} {'net drop':<22} "
             "net drop (true-class prob.)"]
    for rep, v in result["vs_data"].items():
        if "net_drop" in v:
            lines.append(f"{rep:<16} {format_cell(v['drop']):<22} "
                         f"{format_cell(v['control_drop']):<22} {format_cell(v['net_drop']):<22} "
                         f"{format_cell(v['probability']['net_drop'])}")
    lines += ["", f"audit verdict: {result['audit_verdict']} - {a['reason']}",
              f"({a['scope']})"]
    return "\n".join(lines)
