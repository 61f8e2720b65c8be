"""``hideseek probe-source``: can the data source be recognised, with and without the lungs?

When class and source are confounded, a probe trained on all images can read the source
*through the label* (learn the class, then guess the class's usual source). The probe therefore
runs on a design balanced within label: only classes with at least two sources of
``min_per_source`` images take part, and within each such class every source contributes the
same number of images. Knowing the label then tells a source apart no better than 1 / (number of
sources of that class): that is the probe's chance, averaged over the test images' classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.classification.config import TrainConfig
from hideseek.classification.evaluate import evaluate
from hideseek.classification.stats import wilson
from hideseek.classification.train import train_classifier
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.jsonio import write_json
from hideseek.runtime import Runtime

__all__ = ["ProbeDesign", "label_balanced_design", "probe_source"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeDesign:
    """The records of a probe balanced within label.

    Attributes:
        records: The chosen records.
        sources: Label -> the sources it contributes (each with ``per_source[label]`` images).
        per_source: Label -> images per source.
        left_out: Label -> why it takes no part (fewer than two sources large enough).
    """

    records: list[Record]
    sources: dict[str, list[str]]
    per_source: dict[str, int]
    left_out: dict[str, str]

    def chance(self, labels: Sequence[str]) -> float | None:
        """Accuracy from the label alone on test images with these labels."""
        shares = [1.0 / len(self.sources[lab]) for lab in labels if lab in self.sources]
        shares = shares or [1.0 / len(s) for s in self.sources.values()]
        return float(np.mean(shares)) if shares else None

    def to_json(self) -> dict[str, Any]:
        """The design as written to ``probe.json``."""
        return {"balanced_within_label": True, "sources": self.sources,
                "per_source": self.per_source, "left_out": self.left_out}


def label_balanced_design(records: Sequence[Record], min_per_source: int = 10,
                          seed: int = 0) -> ProbeDesign:
    """Subsample ``records`` so that, within each label, every source has as many images."""
    cells: dict[str, dict[str, list[Record]]] = {}
    for r in records:
        if r.label is not None:
            cells.setdefault(r.label, {}).setdefault(r.source, []).append(r)
    rng = np.random.default_rng(seed)
    chosen: list[Record] = []
    sources: dict[str, list[str]] = {}
    per_source: dict[str, int] = {}
    left_out: dict[str, str] = {}
    for label in sorted(cells):
        big = {s: rs for s, rs in sorted(cells[label].items()) if len(rs) >= min_per_source}
        if len(big) < 2:
            left_out[label] = (f"{len(big)} source(s) with >= {min_per_source} images "
                               f"(of {sorted(cells[label])})")
            continue
        n = min(len(rs) for rs in big.values())
        for rs in big.values():
            chosen += [rs[i] for i in sorted(rng.permutation(len(rs))[:n])]
        sources[label], per_source[label] = list(big), n
    order = {id(r): i for i, r in enumerate(records)}
    chosen.sort(key=lambda r: order[id(r)])
    return ProbeDesign(chosen, sources, per_source, left_out)


def _per_label(preds: Any, design: ProbeDesign) -> dict[str, Any]:
    out = {}
    for label, srcs in design.sources.items():
        idx = np.array([i for i, r in enumerate(preds.records) if r.label == label], dtype=int)
        hits = int((preds.pred[idx] == preds.y[idx]).sum()) if idx.size else 0
        out[label] = {"n": int(idx.size), "chance": 1.0 / len(srcs), "accuracy": {
            "value": hits / idx.size if idx.size else None,
            "ci": list(wilson(hits, int(idx.size)))}}
    return out


def probe_source(data: CXRDataset, masks_dir: str | Path, out: str | Path, cfg: TrainConfig,
                 representations: tuple[str, ...] = ("data", "lungs_removed"),
                 runtime: Runtime | None = None, cache_dir: str | Path | None = None,
                 resume: bool = False, min_per_source: int = 10,
                 seed: int = 0) -> dict[str, Any]:
    """Train the classifier to predict ``source`` on each representation and test it, on a
    design balanced within label (:func:`label_balanced_design`).

    High source accuracy on ``lungs_removed``, above the label-informed chance, means the source
    is identifiable from outside the lungs: a shortcut any label classifier can use when class
    and source are confounded.

    Returns:
        Per representation: test accuracy with its interval, the chance level (what the label
        alone gives on these test images), per-label accuracies and the full metrics; the
        design. Also written to ``out/probe.json``. When no class has two sources large enough
        the probe cannot separate source from class: ``representations`` is empty and ``note``
        says why.
    """
    sources = sorted({r.source for r in data.records})
    if len(sources) < 2:
        raise HideseekError(f"{data.root}: the source probe needs at least two sources "
                            f"(found {sources or 'none'})")
    design = label_balanced_design(data.records, min_per_source, seed)
    out = Path(out)
    result: dict[str, Any] = {"sources": sources, "representations": {},
                              "design": design.to_json()}
    if not design.sources:
        result["note"] = ("no class has two sources with enough images: class and source are "
                          "confounded, so a source probe would only read the class")
        log.warning("source probe skipped: %s", result["note"])
    else:
        sub = data.with_records(design.records)
        for rep in representations:
            result["representations"][rep] = _probe_one(sub, rep, masks_dir, out, cfg, design,
                                                        runtime, cache_dir, resume)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "probe.json", result)
    return result


def _probe_one(sub: CXRDataset, rep: str, masks_dir: str | Path, out: Path, cfg: TrainConfig,
               design: ProbeDesign, runtime: Runtime | None, cache_dir: str | Path | None,
               resume: bool) -> dict[str, Any]:
    c = cfg.model_copy(update={"representation": rep, "target": "source", "sampler": "balanced"})
    run = out / rep
    if not (run / "best.pt").exists() or resume:
        train_classifier(sub, run, c, masks_dir=masks_dir, resume=resume, runtime=runtime,
                         cache_dir=cache_dir)
    metrics, preds = evaluate(run, sub, rep, masks_dir, runtime=runtime, cache_dir=cache_dir)
    return {"accuracy": metrics["accuracy"],
            "chance": design.chance([r.label or "" for r in preds.records]),
            "chance_kind": "label_informed", "n": metrics["n"],
            "per_label": _per_label(preds, design), "metrics": metrics}
