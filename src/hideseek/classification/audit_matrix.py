"""The audit's known-answer matrix: a model trained on data with a known mechanism, audited
with every fill.

Each scenario trains one ResNet-18 on the original images of one dataset with a known answer
and audits it on a second dataset drawn with another seed: the phantom scenarios of
:mod:`hideseek.data.phantom` (evidence in the lungs, a marker outside, a global tone curve, a
COVID-19-only marker, nothing), and markers planted by :mod:`hideseek.data.plant` - another
generator, with other shapes and places - on phantoms without evidence (labels drawn at random
per patient, the marker on every image of one class): in a corner, below the diaphragm, beside
the spine, and one inside the lung boxes but outside the mask. ``bench/audit_matrix.py``
prints the table; ``tests/classification/test_audit_matrix.py`` checks its rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.representations.builtin import SURROUND

__all__ = ["AUDIT_EXPECTED", "AUDIT_TRAIN", "AuditRow", "audit_scenario", "format_audit_matrix",
           "run_audit_matrix", "scenario_model"]

log = logging.getLogger(__name__)

#: The recipe (every scenario; ``image_size`` set per run): small, deterministic, and long
#: enough for every model to learn what its input allows.
AUDIT_TRAIN: dict[str, Any] = {
    "arch": "resnet18", "epochs": 10, "batch_size": 32, "lr": 2e-3, "lr_schedule": "cosine",
    "pretrained": False, "crop_top": 0.0, "augment": {"enabled": False},
    "split": (0.8, 0.2, 0.0), "select_metric": "loss", "checkpoint_every": 10}

#: Scenarios whose evidence is small at small sizes train longer there: the tag inside the lung
#: boxes is 4 px at 64 px, and 10 epochs left its model at 0.68-0.80 balanced accuracy on the
#: originals depending on the precision path and threads (a tag on every marked image allows
#: 1.0), so the audit could not judge it. scenario -> (sizes below, epochs).
LONGER: dict[str, tuple[int, int]] = {"marker_in_boxes": (128, 24)}

_Check = Callable[[str, list[str]], bool]
#: Scenario -> (the right answer in words, the check of (verdict, flags) with the default fill).
#: With another fill the verdict may also be ``inconclusive``, and the flags are not required: a
#: fill the probe finds detectable withholds the lung-mask reading that places an effect in the
#: region around the lungs, so the flag can only be promised where the fill is not detectable.
AUDIT_EXPECTED: dict[str, tuple[str, _Check]] = {
    "lungs": ("relies_on_lungs", lambda v, f: v == "relies_on_lungs"),
    "shortcut": ("relies_outside", lambda v, f: v == "relies_outside"),
    "marker_corner": ("relies_outside", lambda v, f: v == "relies_outside"),
    "marker_below": ("relies_outside", lambda v, f: v == "relies_outside"),
    "marker_spine": ("relies_outside", lambda v, f: v == "relies_outside"),
    "marker_in_boxes": ("relies_outside, flag region_around_lungs",
                        lambda v, f: v == "relies_outside" and "region_around_lungs" in f),
    "intensity": ("not relies_on_lungs", lambda v, f: v != "relies_on_lungs"),
    "covid_source": ("not relies_on_lungs", lambda v, f: v != "relies_on_lungs"),
    "null": ("inconclusive", lambda v, f: v == "inconclusive"),
}
#: The flags a check may ask for (waived with a fill other than the default).
_FLAGS = ["region_around_lungs"]
_PLANTED = {"marker_corner": ("corner", "tag"), "marker_below": ("below", "letter"),
            "marker_spine": ("spine", "ring")}


@dataclass(frozen=True)
class AuditRow:
    """One scenario audited with one fill."""

    scenario: str
    size: int
    fill: str
    default_fill: bool
    verdict: str
    flags: list[str]
    expected: str
    ok: bool
    net_drop: dict[str, float | None] = field(default_factory=dict)
    drop: dict[str, float | None] = field(default_factory=dict)
    detectability: dict[str, float | None] = field(default_factory=dict)
    data_accuracy: float | None = None


def _box_marker(image: np.ndarray, mask: np.ndarray, side: int) -> np.ndarray | None:
    """A bright square inside the lung boxes, two pixels clear of the mask (the on-the-fly
    representations hide a one-pixel rim around it), at the box corner farthest from the lungs'
    centre: the largest that fits, up to ``side`` (at least 2 pixels; the box corners beside
    elliptic phantom lungs are small: 2-3 px at 64 px, 5-6 at 128); None when none fits."""
    from scipy import ndimage

    from hideseek.segmentation.postprocess import boxes_mask, lung_boxes

    free = boxes_mask(mask.shape, lung_boxes(mask)) & ~ndimage.binary_dilation(
        mask.astype(bool), iterations=2)
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1))
    table[1:, 1:] = free.astype(np.float64).cumsum(0).cumsum(1)
    for s in range(side, 1, -1):
        fits = (table[s:, s:] - table[:-s, s:] - table[s:, :-s] + table[:-s, :-s]
                ) >= s * s - 0.5
        ys, xs = np.nonzero(fits)
        if ys.size:
            cy, cx = np.argwhere(mask).mean(0)
            k = int(np.argmax((ys - cy) ** 2 + (xs - cx) ** 2))
            out = image.copy()
            out[ys[k]:ys[k] + s, xs[k]:xs[k] + s] = 0.95
            return out
    return None


def _write_box_markers(src: Path, out: Path, seed: int) -> None:
    """Relabel ``src`` (phantoms without evidence) at random per patient and mark every image
    of ``marked`` inside its lung boxes."""
    from dataclasses import replace

    from hideseek.data.io import read_image, read_mask, write_png
    from hideseek.data.manifest import load_dataset, write_manifest

    data = load_dataset(src)
    rng = np.random.default_rng(seed)
    patients = sorted({r.patient_id for r in data.records})
    label = dict(zip(patients, rng.permutation(np.arange(len(patients)) % 2), strict=True))
    records = []
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for r in data.records:
        image = read_image(data.image_path(r))
        mask = read_mask(src / "masks" / r.filename, image.shape)
        marked = bool(label[r.patient_id])
        side = max(3, round(0.06 * min(image.shape)))
        planted = _box_marker(image, mask, side) if marked else image
        write_png(out / "images" / r.filename, planted if planted is not None else image)
        write_png(out / "masks" / r.filename, mask)
        records.append(replace(r, label="marked" if marked and planted is not None
                               else "clean", source="box_marker"))
    write_manifest(out / "manifest.csv", records)


def _dataset(scenario: str, part: str, n: int, size: int, seed: int, out: Path) -> Path:
    """The train or test dataset of a scenario (reused when already written)."""
    from hideseek.data.manifest import load_dataset
    from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
    from hideseek.data.plant import PlantConfig, plant_dataset

    root = out / scenario / part
    if (root / "manifest.csv").is_file():
        return root
    if scenario in _PLANTED or scenario == "marker_in_boxes":
        base = out / scenario / f"{part}-base"
        if not (base / "manifest.csv").is_file():
            write_phantom_dataset(base, PhantomConfig(scenario="null", n=n, size=size,
                                                      seed=seed))
        if scenario == "marker_in_boxes":
            _write_box_markers(base, root, seed)
        else:
            place, shape = _PLANTED[scenario]
            plant_dataset(load_dataset(base), base / "masks", root, PlantConfig(
                contamination=1.0, relabel=True, classes=("clean", "marked"),
                marked_class="marked", marker_place=place, marker_shape=shape,
                crop_top=0.0, seed=seed))
        return root
    write_phantom_dataset(root, PhantomConfig(scenario=scenario, n=n, size=size, seed=seed,
                                              evidence=2.5))
    return root


def scenario_model(scenario: str, out: str | Path, *, size: int = 64, n_train: int = 240,
                   n_test: int = 150, seed: int = 0) -> Path:
    """The scenario's phantoms (``<out>/<size>px/<scenario>/train``, ``.../test``) and its model
    trained on the originals (``.../model``); both reused when there."""
    from hideseek.classification.config import TrainConfig
    from hideseek.classification.train import train_classifier
    from hideseek.data.manifest import load_dataset

    out = Path(out) / f"{size}px"
    k = list(AUDIT_EXPECTED).index(scenario) + 1
    train = _dataset(scenario, "train", n_train, size, 100 * k + seed, out)
    _dataset(scenario, "test", n_test, size, 100 * k + 50 + seed, out)
    model = out / scenario / "model"
    if not (model / "best.pt").is_file():
        below, epochs = LONGER.get(scenario, (0, AUDIT_TRAIN["epochs"]))
        cfg = TrainConfig(**{**AUDIT_TRAIN, "image_size": size, "seed": seed,
                             **({"epochs": epochs, "checkpoint_every": epochs}
                                if size < below else {})})
        train_classifier(load_dataset(train), model, cfg, masks_dir=train / "masks",
                         cache_dir=out / "cache")
    return model


def audit_scenario(scenario: str, out: str | Path, *, size: int = 64, n_train: int = 240,
                   n_test: int = 150, seed: int = 0, fills: Sequence[str] | None = None,
                   n_boot: int = 400) -> list[AuditRow]:
    """Train the scenario's model once and audit it with the default fill and ``fills``."""
    from hideseek.classification.audit import AUDIT_FILL, audit, contrasts
    from hideseek.data.manifest import load_dataset

    model = scenario_model(scenario, out, size=size, n_train=n_train, n_test=n_test, seed=seed)
    test, cache = model.parent / "test", model.parents[1] / "cache"  # <out>/<size>px/...
    rows = []
    words, check = AUDIT_EXPECTED[scenario]
    for fill in [AUDIT_FILL, *(f for f in (fills or ()) if f != AUDIT_FILL)]:
        result, _ = audit(model, load_dataset(test), test / "masks",
                          ("lungs_isolated", "lungs_removed", "lungs_boxed_out"), split="all",
                          cache_dir=cache, n_boot=n_boot,
                          fill=None if fill == AUDIT_FILL else fill, seed=seed)
        verdict, flags = result["audit_verdict"], list(result["audit"].get("flags", []))
        default = fill == AUDIT_FILL
        ok = check(verdict, flags) if default else (
            check(verdict, [*flags, *_FLAGS]) or verdict == "inconclusive")
        compared = contrasts(result)
        rows.append(AuditRow(
            scenario, size, fill, default, verdict, flags, words, ok,
            {r: v["net_drop"]["value"] for r, v in compared.items() if "net_drop" in v},
            {r: v["drop"]["value"] for r, v in compared.items() if "drop" in v},
            {r: d.get("auc") for r, d in result.get("fill_detectability", {}).items()},
            result["audit"]["data_balanced_accuracy"]["value"]))
        log.info("%s %dpx fill %s: %s %s", scenario, size, fill, verdict, flags)
    return rows


def run_audit_matrix(out: str | Path, scenarios: Sequence[str] = tuple(AUDIT_EXPECTED),
                     sizes: Sequence[int] = (64,), fills: Sequence[str] = (),
                     seed: int = 0, n_boot: int = 400) -> list[AuditRow]:
    """Every scenario at every size; the default fill and ``fills`` on each model."""
    return [row for size in sizes for s in scenarios
            for row in audit_scenario(s, out, size=size, seed=seed, fills=fills, n_boot=n_boot)]


def format_audit_matrix(rows: Sequence[AuditRow]) -> str:
    """The matrix as a Markdown table."""
    lines = ["| scenario | px | fill | verdict | flags | net drop (removed / boxed out / "
             "surround) | probe AUC (removed / boxed out / surround) | expected | right |",
             "|---|---|---|---|---|---|---|---|---|"]

    def pair(d: dict[str, float | None]) -> str:
        return " / ".join("-" if d.get(r) is None else f"{d[r]:.2f}"
                          for r in ("lungs_removed", "lungs_boxed_out", SURROUND))

    for r in rows:
        fill = f"{r.fill} (default)" if r.default_fill else r.fill
        lines.append(f"| {r.scenario} | {r.size} | {fill} | {r.verdict} | "
                     f"{', '.join(r.flags) or '-'} | {pair(r.net_drop)} | "
                     f"{pair(r.detectability)} | {r.expected} | {'yes' if r.ok else 'NO'} |")
    return "\n".join(lines)
