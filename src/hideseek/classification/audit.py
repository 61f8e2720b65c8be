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

from hideseek.classification.audit_stats import (
    AuditEffects,
    HiddenCheck,
    audit_decisions,
    audit_effects,
    audit_verdict,
)
from hideseek.classification.config import config_from_meta
from hideseek.classification.data import representation_dataset, usable_records
from hideseek.classification.evaluate import (
    Predictions,
    _open,
    format_cell,
    representation_predictions,
    select_records,
)
from hideseek.classification.stats import paired_comparison
from hideseek.data.cache import default_cache_dir
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.jsonio import to_json
from hideseek.models.adapter import ModelAdapter
from hideseek.models.spec import ModelSpec
from hideseek.representations.builtin import SURROUND
from hideseek.representations.detectability import (
    DETECTABLE_AUC,
    Detectability,
    fill_detectability,
)
from hideseek.representations.masks import MASK_CHANGE, perturb_mask
from hideseek.representations.registry import check_fill
from hideseek.representations.transforms import (
    REPRESENTATIONS,
    Representation,
    apply_representation,
    visible_region,
)
from hideseek.runtime import Runtime

__all__ = ["AuditInputs", "ControlRegion", "audit", "contrasts", "control_region",
           "format_audit", "hides_lungs"]

log = logging.getLogger(__name__)


def hides_lungs(name: str) -> bool:
    """Whether representation ``name`` hides the whole lung mask but not the whole image."""
    mask = _toy_mask()
    try:
        keep = visible_region(name, mask)
    except ValueError:
        return False
    return bool(keep.any() and not (keep & mask).any())


def hides_mask_only(name: str) -> bool:
    """Whether ``name`` hides exactly the lung mask (``lungs_removed``): the version lung
    reliance is judged on (a version hiding more, e.g. the lung boxes, also hides what is
    around the lungs)."""
    mask = _toy_mask()
    try:
        return bool(np.array_equal(~visible_region(name, mask), mask))
    except ValueError:
        return False


def _toy_mask() -> np.ndarray:
    """Two elliptic lungs (their boxes hold more than the mask)."""
    yy, xx = np.mgrid[:32, :32]
    return (((yy - 16) / 8) ** 2 + ((xx - 9) / 4.5) ** 2 <= 1) | (
        ((yy - 16) / 8) ** 2 + ((xx - 22) / 4.5) ** 2 <= 1)


def keeps_mask_only(name: str) -> bool:
    """Whether ``name`` keeps exactly the lung mask (``lungs_isolated``): what the model can do
    from the lungs alone."""
    mask = _toy_mask()
    try:
        return bool(np.array_equal(visible_region(name, mask), mask))
    except ValueError:
        return False


def disturbance(image: np.ndarray, region: np.ndarray, fill: str) -> float:
    """How much ``fill`` changes the pixels of ``region``: the mean absolute change (0 for an
    empty region)."""
    if not region.any():
        return 0.0
    filled = apply_representation("lungs_removed", image, region, fill)
    return float(np.abs(filled[region] - image[region]).mean())


def _cell_disturbances(image: np.ndarray, cells: list[tuple[int, int]], side: int,
                       fill: str) -> np.ndarray:
    """Each cell's :func:`disturbance`, filled with half the cells at a time (a
    checkerboard: no two cells filled together share an edge, so each is filled from its own
    surroundings, as when it is filled alone) - two fills per image instead of one per cell."""
    out = np.zeros(len(cells))
    for parity in (0, 1):
        chosen = [k for k, (y, x) in enumerate(cells) if ((y // side) + (x // side)) % 2 == parity]
        if not chosen:
            continue
        region = np.zeros(image.shape, dtype=bool)
        for k in chosen:
            y, x = cells[k]
            region[y:y + side, x:x + side] = True
        filled = apply_representation("lungs_removed", image, region, fill)
        change = np.abs(filled - image)
        for k in chosen:
            y, x = cells[k]
            out[k] = float(change[y:y + side, x:x + side].mean())
    return out


def control_region(image: np.ndarray, hidden: np.ndarray, seed: int,
                   block: int | None = None, fill: str = "zero",
                   avoid: np.ndarray | None = None) -> np.ndarray:
    """The matched control of a hidden region: square blocks that do not touch ``hidden`` (or
    ``avoid``), as many as make up its area (to within one block), chosen by how close the
    change the fill makes in each block is to the change it makes in the hidden region (its
    *disturbance*: ties broken at random, seeded).

    Matching the disturbance, not the brightness, makes the control disturb the image as much
    as hiding the lungs does, whatever the fill: with a zero fill a block of air changes
    nothing and a block of soft tissue a lot (the two criteria agree there), but with an
    imputing fill the change follows the surroundings, not the brightness. ``block`` defaults
    to 1/8 of the image side (at least 4 pixels).
    """
    h, w = hidden.shape
    side = block or max(4, min(h, w) // 8)
    target = int(hidden.sum())
    blocked = hidden if avoid is None else hidden | avoid
    cells = [(y, x) for y in range(0, h - side + 1, side) for x in range(0, w - side + 1, side)
             if not blocked[y : y + side, x : x + side].any()]
    out = np.zeros((h, w), dtype=bool)
    if not target or not cells:
        return out
    level = disturbance(image, hidden, fill)
    jitter = np.random.default_rng(seed).random(len(cells)) * 1e-6
    score = np.abs(_cell_disturbances(image, cells, side, fill) - level)
    for k in np.argsort(score + jitter):
        if out.sum() >= target:
            break
        y, x = cells[k]
        out[y : y + side, x : x + side] = True
    return out


@dataclass(frozen=True)
class ControlRegion:
    """The matched control of a hiding representation as an (image, mask) -> image callable.

    The region the representation ``name`` hides is computed from the mask; the same number of
    pixels outside it, where the fill makes about the same change (:func:`control_region`;
    seeded by the mask, so every call and every model sees the same control), is filled with
    ``fill`` exactly as the representation fills its own.

    Attributes:
        name: The hiding representation (e.g. ``lungs_removed``).
        fill: Fill name, passed through to :func:`apply_representation`.
        box_margin: Pixels added around each lung box.
        guard: Rim hidden next to the hidden region (as the representation's).
        seed: Base seed of the block placement.
        mask_change: The lung mask grown / shrunk first (as ``Representation.mask_change``).
    """

    name: str
    fill: str = "zero"
    box_margin: int = 0
    guard: int = 0
    seed: int = 0
    mask_change: float = 0.0

    def hidden(self, mask: np.ndarray) -> np.ndarray:
        """The region the representation hides."""
        return ~visible_region(self.name, self._mask(mask), self.box_margin, guard=self.guard)

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        return perturb_mask(mask, self.mask_change) if self.mask_change else mask

    def region(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The control region for this image and lung mask."""
        mask = self._mask(mask)
        digest = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=4).digest()
        return control_region(image, ~visible_region(self.name, mask, self.box_margin,
                                                     guard=self.guard),
                              self.seed + int.from_bytes(digest, "little"), fill=self.fill,
                              avoid=mask.astype(bool))

    def ratios(self, image: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
        """(control area / hidden area, control disturbance / hidden disturbance)."""
        hidden = self.hidden(mask)
        if not hidden.any():
            return None
        ctrl = self.region(image, mask)
        d_h = disturbance(image, hidden, self.fill)
        d_c = disturbance(image, ctrl, self.fill)
        return float(ctrl.sum() / hidden.sum()), d_c / d_h if d_h > 1e-9 else float("nan")

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # "lungs_removed" of the control region: hides exactly that region with this fill.
        return apply_representation("lungs_removed", image, self.region(image, mask),
                                    self.fill)


#: The audit's fill for a model trained on the original images: the built-in fill least
#: detectable on real radiographs (docs/AUDIT.md: the probe's AUC per fill); a model trained
#: on a hidden version is audited with the fill it was trained with.
AUDIT_FILL = "texture"
#: A control whose change to the image is outside this range of the hidden region's (or whose
#: area is under the lower bound of it) does not match: its net drop is not read.
CONTROL_MATCH = (0.5, 2.0)
#: Test images the fill's detectability is measured on.
DETECTABILITY_IMAGES = 40


@dataclass
class AuditInputs:
    """What every prediction of one audit shares: the model, its metadata and the test set.

    Attributes:
        fill_source: Why this fill: ``given``, ``training`` (the model was trained on a hidden
            version with it) or ``default`` (:data:`AUDIT_FILL`).
    """

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
    fill_source: str = "given"

    def control(self, representation: str, mask_change: float = 0.0) -> ControlRegion:
        """The matched control of a hiding representation."""
        margin = config_from_meta(self.meta, representation).box_margin
        return ControlRegion(representation, self.fill, margin, guard=1,
                             mask_change=mask_change)

    def predict(self, representation: str, control: bool = False,
                mask_change: float = 0.0) -> Predictions:
        """Predictions on one representation (or on its matched control), the lung masks
        grown or shrunk by ``mask_change`` of the lung width first."""
        pair: Any = None
        if control:
            pair = self.control(representation, mask_change)
        elif mask_change:
            margin = config_from_meta(self.meta, representation).box_margin
            pair = Representation(representation, self.fill, margin, guard=1,
                                  mask_change=mask_change)
        tag = f"{representation} control" if control else representation
        if mask_change:
            tag += f" (mask {'+' if mask_change > 0 else '-'}{abs(mask_change):.0%})"
        return representation_predictions(
            self.model, self.meta, self.data, self.records, representation, self.masks_dir,
            self.originals, self.runtime, self.cache_dir, self.batch_size, fill=self.fill,
            pair_transform=pair, desc=f"predict {tag}")

    def sample(self, n: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
        """Up to ``n`` test images as the model sees them, their masks and patients."""
        cfg = config_from_meta(self.meta, "data").model_copy(update={
            "image_size": self.model.input.size, "crop_top": self.model.input.crop_top})
        records = self.records[:: max(1, len(self.records) // n)][:n]
        ds = representation_dataset(self.data, records, cfg, self.masks_dir, self.cache_dir,
                                    train=False, square=self.model.input.square)
        return ([ds.array(i) for i in range(len(ds))],
                [ds.mask(i).astype(bool) for i in range(len(ds))],
                [r.patient_id for r in ds.records])


def _inputs(model_path: str | Path | None, data: CXRDataset, masks_dir: str | Path, split: str,
            arch: str | None, runtime: Runtime | None, cache_dir: str | Path | None,
            batch_size: int, on_bad_mask: str, fill: str | None, spec: ModelSpec | None = None,
            adapter: ModelAdapter | None = None, external: bool = False) -> AuditInputs:
    if fill is not None:
        check_fill(fill)
    model, model_dir = _open(model_path, arch, spec, adapter)
    meta = model.meta
    mdir = Path(masks_dir)
    usable, originals = usable_records(data, mdir, on_bad_mask)
    records = select_records(data.with_records(usable), model_dir, split, external=external)
    if not records:
        raise HideseekError(f"no {split} images to audit in {data.root}")
    trained = config_from_meta(meta, "data")
    if trained.target != "label":
        raise HideseekError(f"{model_path}: the audit needs a label classifier, not a "
                            "source probe")
    on_hidden = meta.get("config", {}).get("representation", "data") != "data"
    chosen, source = (fill, "given") if fill is not None else (
        (trained.fill, "training") if on_hidden else (AUDIT_FILL, "default"))
    return AuditInputs(model, meta, data, records, mdir, originals, runtime or Runtime.auto(),
                       default_cache_dir() if cache_dir is None else cache_dir, batch_size,
                       chosen, source)


def _effects_json(e: AuditEffects) -> dict[str, Any]:
    out = {"drop": e.drop.to_json(), "control_drop": e.control_drop.to_json(),
           "net_drop": e.net_drop.to_json(), "hidden_balanced_accuracy": e.hidden.to_json(),
           "probability": {"drop": e.prob_drop.to_json(),
                           "control_drop": e.prob_control_drop.to_json(),
                           "net_drop": e.prob_net_drop.to_json()},
           "control_area_ratio": e.control_area_ratio,
           "control_disturbance_ratio": e.control_disturbance_ratio}
    if e.per_finding:
        out["per_finding"] = {f: d.to_json() for f, d in e.per_finding.items()}
    return out


def _ratios(inp: AuditInputs, rep: str, images: list[np.ndarray],
            masks: list[np.ndarray]) -> tuple[float | None, float | None]:
    """Mean control / hidden area and disturbance over the sample."""
    ctrl = inp.control(rep)
    found = [r for r in (ctrl.ratios(i, m) for i, m in zip(images, masks, strict=True)) if r]
    if not found:
        return None, None
    area = float(np.mean([a for a, _ in found]))
    dist = [d for _, d in found if np.isfinite(d)]
    return area, float(np.mean(dist)) if dist else None


def _check(rep: str, fill: str, found: Detectability, area: float | None,
           dist: float | None) -> HiddenCheck:
    """Whether ``rep``'s net drop can be read as reliance (fill not detectable, control
    matched)."""
    if found.detectable:
        return HiddenCheck(False, "fill_detectable", f"the {fill} fill of {rep} is detectable "
                           f"(probe AUC {found.auc:.2f}, lower bound {found.ci[0]:.2f} >= "
                           f"{DETECTABLE_AUC}): a model may react to the fill itself")
    lo, hi = CONTROL_MATCH
    if area is not None and area < lo:
        return HiddenCheck(False, "control_unmatched", f"the control of {rep} covers only "
                           f"{area:.0%} of the hidden area (too little room outside it)")
    if dist is not None and not lo <= dist <= hi:
        return HiddenCheck(False, "control_unmatched", f"the control of {rep} changes the image "
                           f"{dist:.2f} times as much as hiding it does")
    return HiddenCheck()


def _comparison(base: Predictions, other: Predictions, groups: list[str],
                n_boot: int) -> dict[str, Any]:
    """McNemar and the paired accuracy difference (multi-label: on exact matches)."""
    if not base.multilabel:
        return to_json(paired_comparison(base.y, base.pred, other.pred, groups, n_boot))
    known = ~np.isnan(base.y)
    right = [np.where(known, p.pred == (base.y > 0), True).all(1).astype(int)
             for p in (base, other)]
    return to_json(paired_comparison(np.ones(len(base.y), dtype=int), right[0], right[1],
                                     groups, n_boot))


def audit(model_path: str | Path | None, data: CXRDataset, masks_dir: str | Path,
          representations: tuple[str, ...] = REPRESENTATIONS, split: str = "test",
          arch: str | None = None, runtime: Runtime | None = None,
          cache_dir: str | Path | None = None, batch_size: int = 32, n_boot: int = 1000,
          on_bad_mask: str = "exclude", fill: str | None = None, controls: bool = True,
          min_effect: float = 0.10, seed: int = 0, *, spec: ModelSpec | None = None,
          adapter: ModelAdapter | None = None, external: bool = False,
          mask_perturb: bool = False) -> tuple[dict[str, Any], dict[str, Predictions]]:
    """Test one trained model on every representation of the same test images (no retraining).

    Each representation is compared with ``data`` (McNemar exact test, paired bootstrap of the
    accuracy difference). Each one that hides the lungs is also compared with its matched
    control; the net drop (the endpoint: balanced accuracy, or the macro AUC of a multi-label
    model, per finding too; and the true-answer probability), the fill's detectability and the
    audit's verdict on this one model are added (docs/AUDIT.md).

    Args:
        fill: Fill of the hidden region; default: :data:`AUDIT_FILL` for a model trained on
            the originals, the training fill for one trained on a hidden version.
        controls: Run the matched controls and give ``audit_verdict``.
        min_effect: Smallest net drop / skill above chance that counts.
        seed: Seed of the patient bootstrap.
        external: Audit every image as data the model never saw (refused on a patient overlap
            with the model's training / validation split).
        mask_perturb: Also re-make the verdict with the lung masks shrunk and grown by
            :data:`~hideseek.representations.masks.MASK_CHANGE` of the lung width
            (``mask_perturbation``: does it hold under segmentation errors?).

    Returns:
        The JSON result (``representations``, ``vs_data``, ``fill_detectability``,
        ``audit_verdict``, ``audit``, ``surround_control`` where the audit added it ...) and
        the predictions per representation (controls as ``<name>_control``).
    """
    inp = _inputs(model_path, data, masks_dir, split, arch, runtime, cache_dir, batch_size,
                  on_bad_mask, fill, spec, adapter, external)
    reps = tuple(dict.fromkeys(("data", *representations)))
    hidden = [rep for rep in reps if controls and hides_lungs(rep)]
    if hidden and any(keeps_mask_only(r) for r in reps):
        # the surround control: read when lung reliance is not shown (docs/AUDIT.md, step 3)
        reps = tuple(dict.fromkeys((*reps, SURROUND)))
    preds = {rep: inp.predict(rep) for rep in reps}
    if SURROUND in reps and controls:
        hidden.append(SURROUND)
    for rep in hidden:
        preds[f"{rep}_control"] = inp.predict(rep, control=True)
    groups = [r.patient_id for r in preds["data"].records]
    base = preds["data"]
    task = base.task
    result: dict[str, Any] = {
        "arch": inp.meta.get("arch"), "split": split, "n": len(base.records),
        "trained_on": inp.meta.get("config", {}).get("representation"), "fill": inp.fill,
        "fill_source": inp.fill_source,
        "task": task.to_json() if task is not None else None,
        "representations": {rep: to_json(preds[rep].metrics(n_boot)) for rep in reps},
        "vs_data": {rep: _comparison(base, preds[rep], groups, n_boot)
                    for rep in reps if rep != "data"},
    }
    if controls:
        effects, extra = _controlled(inp, preds, hidden, groups, n_boot, seed, min_effect)
        for rep, e in effects.items():
            result["vs_data"][rep].update(e)
        result.update(extra)
        if mask_perturb:
            result["mask_perturbation"] = _perturbed(inp, preds, hidden, groups, n_boot, seed,
                                                     min_effect, result["audit_verdict"])
    if SURROUND in reps and SURROUND not in representations:
        # added by the audit, not asked for: its own key, so that ``representations`` and
        # ``vs_data`` hold what was asked
        result["surround_control"] = {"representation": SURROUND,
                                      "metrics": result["representations"].pop(SURROUND),
                                      **result["vs_data"].pop(SURROUND)}
    return result, preds


def _perturbed(inp: AuditInputs, preds: dict[str, Predictions], hidden: list[str],
               groups: list[str], n_boot: int, seed: int, min_effect: float,
               verdict: str) -> dict[str, Any]:
    """The verdict again with the lung masks shrunk and grown (no retraining)."""
    out: dict[str, Any] = {"change": MASK_CHANGE, "verdict": verdict}
    for name, change in (("erode", -MASK_CHANGE), ("dilate", MASK_CHANGE)):
        moved = {**preds}
        for rep in hidden:
            moved[rep] = inp.predict(rep, mask_change=change)
            moved[f"{rep}_control"] = inp.predict(rep, control=True, mask_change=change)
        for rep in (r for r in preds if keeps_mask_only(r)):
            moved[rep] = inp.predict(rep, mask_change=change)
        _, extra = _controlled(inp, moved, hidden, groups, n_boot, seed, min_effect)
        out[name] = {"verdict": extra["audit_verdict"], "flags": extra["audit"]["flags"]}
    out["holds"] = all(out[k]["verdict"] == verdict for k in ("erode", "dilate"))
    return out


def _controlled(inp: AuditInputs, preds: dict[str, Predictions], hidden: list[str],
                groups: list[str], n_boot: int, seed: int, min_effect: float
                ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The matched controls' effects (JSON per hidden representation) and the fill's
    detectability and the audit's verdict."""
    base = preds["data"]
    findings = list(base.classes) if base.multilabel else []
    images, masks, patients = inp.sample(DETECTABILITY_IMAGES)
    margin = {rep: config_from_meta(inp.meta, rep).box_margin for rep in hidden}
    found = {rep: fill_detectability(images, masks, patients, rep, inp.fill,
                                     box_margin=margin[rep], seed=seed) for rep in hidden}
    measured_on = _surround_probe(found, hidden)
    effects, checks = {}, {}
    for rep in hidden:
        area, dist = _ratios(inp, rep, images, masks)
        effects[rep] = audit_effects(base, preds[rep], preds[f"{rep}_control"], groups, n_boot,
                                     seed, n_decisions=audit_decisions(
                                         len(hidden) - (SURROUND in hidden), SURROUND in hidden),
                                     area_ratio=area, disturbance_ratio=dist, findings=findings)
        checks[rep] = _check(rep, inp.fill, found[rep], area, dist)
        if rep == SURROUND and found[rep].auc is None:
            checks[rep] = HiddenCheck(False, "fill_detectable", f"the {inp.fill} fill of {rep} "
                                      "could not be probed (no patch fits in it)")
    decision = audit_verdict(base, effects, groups, n_boot, seed, min_effect, checks,
                             mask_reps={r for r in hidden if hides_mask_only(r)},
                             findings=findings,
                             lungs_alone={r: p for r, p in preds.items() if keeps_mask_only(r)},
                             surround_reps=frozenset(hidden) & {SURROUND})
    return ({rep: _effects_json(e) for rep, e in effects.items()},
            {"fill_detectability": {rep: {**to_json(d), "fill": inp.fill,
                                          **({"measured_on": measured_on}
                                             if rep == SURROUND and measured_on else {})}
                                    for rep, d in found.items()},
             "audit_verdict": decision.verdict, "audit": decision.to_json()})


def _surround_probe(found: dict[str, Detectability], hidden: list[str]) -> str | None:
    """Where the surround control is too thin for the probe's patches (small images), its fill
    is judged by the probe of a version that hides the boxes it is part of, filled the same
    way (the least favourable one): ``found`` is updated; returns that version's name."""
    if SURROUND not in found or found[SURROUND].auc is not None:
        return None
    wider = [r for r in hidden if r != SURROUND and not hides_mask_only(r)
             and found[r].auc is not None]
    if not wider:
        return None
    worst = max(wider, key=lambda r: found[r].auc or 0.0)
    found[SURROUND] = found[worst]
    return worst


def contrasts(result: dict[str, Any]) -> dict[str, Any]:
    """Every version's comparison with ``data`` in an audit result: ``vs_data`` and the
    surround control where the audit added it."""
    surround = result.get("surround_control")
    return {**result["vs_data"], **({surround["representation"]: surround} if surround else {})}


def format_audit(result: dict[str, Any]) -> str:
    """The audit's verdict first, then the matched-control table and the fill's detectability,
    for the CLI."""
    a = result["audit"]
    endpoint = a.get("endpoint", "balanced_accuracy").replace("_", " ")
    lines = [f"audit verdict: {result['audit_verdict']} - {a['reason']}"]
    if a.get("flags"):
        lines.append(f"flags: {', '.join(a['flags'])}")
    lines += [f"  {note}" for note in a.get("notes", [])]
    if a.get("per_finding"):
        reasons = a.get("per_finding_reasons") or {}
        lines.append("per finding:")
        lines += [f"  {f}: {v}" + (f" - {reasons[f]}" if reasons.get(f) else "")
                  for f, v in a["per_finding"].items()]
    lines += [f"({a['scope']}; fill {result.get('fill')}, {result.get('fill_source', 'given')})",
              "", f"matched controls ({endpoint}; drop = data minus version, net = drop minus "
              f"the control's; {a['level']:.1%} patient-bootstrap intervals)",
              f"{'representation':<22} {'drop':<22} {'control drop':<22} {'net drop':<22} "
              f"{'control/hidden change':<22} fill detectability (probe AUC)"]
    found = result.get("fill_detectability", {})
    for rep, v in contrasts(result).items():
        if "net_drop" in v:
            ratio = v.get("control_disturbance_ratio")
            probe = found.get(rep, {})
            auc = f"{format_cell({'value': probe.get('auc'), 'ci': probe.get('ci')})}" \
                if probe else "-"
            lines.append(f"{rep:<22} {format_cell(v['drop']):<22} "
                         f"{format_cell(v['control_drop']):<22} {format_cell(v['net_drop']):<22} "
                         f"{'-' if ratio is None else f'{ratio:.2f}':<22} {auc}")
    return "\n".join(lines)
