"""One protocol cell: train one architecture on one representation with one seed, then test.

A cell is a plain function of a JSON-able spec (:class:`CellSpec`), so the local executor and
Ray run the same code.
Finished cells are recorded in ``cell.json`` with a hash of everything that defines them;
a rerun skips a cell whose hash is unchanged and redoes one whose inputs or settings changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hideseek.classification.config import TrainConfig
from hideseek.classification.results import EvalResult
from hideseek.jsonio import dumps, from_json, to_json

__all__ = ["CellResult", "CellSpec", "cell_hash", "cell_is_done", "run_cell"]

log = logging.getLogger(__name__)


_UNUSED_BY_DATA = ("fill", "box_margin")  # the ``data`` cell never hides anything


@dataclass(frozen=True)
class CellSpec:
    """Everything that defines one cell (plain values, so that Ray can ship it).

    Attributes:
        train: The cell's training config (``arch``, ``representation``, ``seed``, the task
            when declared ...); the fields it sets define the cell.
        data_hash: Content hash of the data; ``masks_hash`` of the masks; ``code`` of the code.
        out: The cell's folder.
    """

    data: list[str]
    images: str | None
    masks: str
    train: TrainConfig
    on_bad_mask: str
    n_boot: int
    data_hash: str
    masks_hash: str
    code: str
    cache_dir: str
    out: str

    def __str__(self) -> str:
        t = self.train
        return f"{t.arch}/{t.representation} seed {t.seed}"


@dataclass(frozen=True)
class CellResult:
    """One cell's record (``cell.json``): what defines it, its training summary (``train.json``)
    and its test metrics (``eval.json``)."""

    hash: str
    arch: str
    representation: str
    seed: int
    train: dict[str, Any]
    eval: EvalResult


def cell_hash(spec: CellSpec) -> str:
    """Hash of what a cell depends on: its settings, the data and masks by content (the spec's
    ``data_hash`` / ``masks_hash``) and the code (``code``, else the package version).

    The fill and box margin enter only the cells of representations that hide something, so
    changing the fill leaves the ``data`` cells reused.
    """
    from hideseek import __version__

    keep = {k: to_json(getattr(spec, k)) for k in (f.name for f in fields(spec))
            if k not in {"out", "cache_dir", "train"}}
    # the fields the cell sets (as the dict of earlier versions: their hashes stay)
    train = spec.train.model_dump(mode="json", exclude_unset=True)
    if train.get("representation") == "data":
        for name in _UNUSED_BY_DATA:
            train.pop(name, None)
    keep["train"] = train
    keep.setdefault("code", __version__)
    blob = json.dumps(keep, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cell_is_done(spec: CellSpec) -> bool:
    """True when the cell finished before with the same definition."""
    marker = Path(spec.out) / "cell.json"
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("hash") == cell_hash(spec)
    except (OSError, json.JSONDecodeError):
        return False


def run_cell(spec: CellSpec) -> CellResult:
    """Train (resuming an interrupted run) and evaluate one cell; returns its record."""
    from hideseek.classification.evaluate import evaluate
    from hideseek.classification.train import train_classifier
    from hideseek.data.manifest import load_dataset

    out = Path(spec.out)
    h = cell_hash(spec)
    if cell_is_done(spec):
        return from_json(CellResult, json.loads((out / "cell.json").read_text()))
    marker = out / "cell.json"
    started = out / "cell.started"
    if out.exists() and (not started.is_file() or started.read_text() != h):
        shutil.rmtree(out)  # made with other settings: redo from scratch
    out.mkdir(parents=True, exist_ok=True)
    started.write_text(h)
    cfg = spec.train
    data = load_dataset(spec.data if len(spec.data) > 1 else spec.data[0], images=spec.images,
                        task=cfg.declared_task())
    # ``out`` is new or holds this cell's own interrupted (last.pt) or finished (finished.json)
    # training: resume it (a finished one trains nothing; only best.pt is kept).
    train = train_classifier(data, out, cfg, masks_dir=spec.masks, resume=True,
                             cache_dir=spec.cache_dir, on_bad_mask=spec.on_bad_mask)
    metrics, preds = evaluate(out, data, masks_dir=spec.masks, n_boot=spec.n_boot,
                              cache_dir=spec.cache_dir, on_bad_mask=spec.on_bad_mask)
    preds.write_csv(out / "predictions.csv")
    (out / "eval.json").write_text(dumps(metrics))
    summary = CellResult(h, cfg.arch, cfg.representation, cfg.seed, train,
                         from_json(EvalResult, metrics))
    marker.write_text(dumps(summary))
    started.unlink(missing_ok=True)
    return summary
