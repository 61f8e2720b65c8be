"""``hideseek evaluate``: test-set metrics with intervals (the audit lives in ``audit.py``)."""

from __future__ import annotations

import csv
import logging
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.classification.checkpoint import KIND as CHECKPOINT_KIND
from hideseek.classification.config import config_from_meta
from hideseek.classification.data import representation_dataset, usable_records
from hideseek.classification.results import Estimate, EvalResult, Metrics, SourceMetrics
from hideseek.classification.stats import classification_metrics, multilabel_metrics, wilson
from hideseek.data.cache import default_cache_dir
from hideseek.data.manifest import CXRDataset, Record, read_splits, retask
from hideseek.errors import HideseekError
from hideseek.formatting import format_value_ci
from hideseek.jsonio import to_json
from hideseek.models.adapter import ModelAdapter
from hideseek.models.architectures import Classifier
from hideseek.models.loaders import resolve_model
from hideseek.models.spec import ModelSpec
from hideseek.progress import progress
from hideseek.runtime import Runtime
from hideseek.task import Task

__all__ = ["Predictions", "bind_task", "evaluate", "format_cell", "format_sources",
           "format_table", "representation_predictions", "select_records"]

log = logging.getLogger(__name__)


class Predictions:
    """Predictions of one model on one representation of a test set.

    Attributes:
        y: True class index per image; multi-label: N x K findings (1, 0, NaN uncertain).
        pred: Predicted class index; multi-label: N x K booleans (probability >= 0.5).
        multilabel: The task is multi-label.
        task: The task of the labels and outputs (None: a source probe).
    """

    def __init__(self, records: list[Record], targets: list[Any], prob: np.ndarray,
                 classes: list[str], multilabel: bool = False,
                 task: Task | None = None) -> None:
        self.records, self.prob, self.classes = records, prob, classes
        self.multilabel, self.task = multilabel, task
        if multilabel:
            self.y = np.vstack(targets).astype(np.float64) if len(targets) else \
                np.zeros((0, len(classes)))
            self.pred = prob >= 0.5
        else:
            self.y = np.asarray(targets, dtype=np.int64)
            self.pred = prob.argmax(1) if len(prob) else np.zeros(0, dtype=np.int64)

    def correct(self) -> np.ndarray:
        """Per image: right (multiclass); multi-label: the share of its known findings right."""
        if not self.multilabel:
            return np.asarray(self.pred == self.y)
        known = ~np.isnan(self.y)
        hits = (self.pred == (self.y > 0)) & known
        return np.asarray(hits.sum(1) / np.maximum(known.sum(1), 1))

    def metrics(self, n_boot: int = 1000, seed: int = 0) -> Metrics:
        """Metrics with intervals (patients resampled) plus a per-source breakdown."""
        groups = [r.patient_id for r in self.records]
        if self.multilabel:
            m = multilabel_metrics(self.y, self.prob, self.classes, groups, n_boot, seed)
        else:
            m = classification_metrics(self.y, self.pred, self.classes, self.prob, groups,
                                       n_boot, seed)
        by_source = {}
        right = self.correct()
        for source in sorted({r.source for r in self.records}):
            idx = np.array([i for i, r in enumerate(self.records) if r.source == source])
            correct = float(right[idx].sum())
            counts = ({c: int(np.nansum(self.y[idx, k] > 0)) for k, c in enumerate(self.classes)}
                      if self.multilabel else
                      {c: int((self.y[idx] == k).sum()) for k, c in enumerate(self.classes)})
            by_source[source] = SourceMetrics(
                len(idx), Estimate(correct / len(idx), wilson(round(correct), len(idx))), counts)
        return replace(m, per_source=by_source)

    def write_csv(self, path: str | Path) -> None:
        """One row per image: file, patient, source, label, prediction, probabilities
        (multi-label: ``A|B`` findings, and one ``y_<finding>`` column each: 1, 0, or empty
        when uncertain)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            truth = [f"y_{c}" for c in self.classes] if self.multilabel else []
            w.writerow(["filename", "patient_id", "source", "label", "prediction",
                        *(f"p_{c}" for c in self.classes), *truth])
            for r, y, p, pr in zip(self.records, self.y, self.pred, self.prob, strict=True):
                if self.multilabel:
                    names = [self._findings(y > 0), self._findings(p),
                             *(f"{v:.5f}" for v in pr),
                             *("" if np.isnan(v) else str(int(v)) for v in y)]
                else:
                    names = [self.classes[y], self.classes[p], *(f"{v:.5f}" for v in pr)]
                w.writerow([r.filename, r.patient_id, r.source, *names])

    def _findings(self, flags: np.ndarray) -> str:
        return "|".join(c for c, f in zip(self.classes, flags, strict=True) if f)


def _stem(filename: str) -> str:
    """``dir/x.jpg`` -> ``dir/x`` (``represent`` writes ``x.png``)."""
    return Path(filename).with_suffix("").as_posix()


def _external(data: CXRDataset, rows: list[dict[str, str]], splits_file: Path) -> list[Record]:
    """All records, after refusing any patient of the model's training or validation split."""
    seen = {row.get("patient_id") or "" for row in rows if row.get("split") in {"train", "val"}}
    overlap = sorted({r.patient_id for r in data.records if r.patient_id in seen})
    if overlap:
        shown = ", ".join(overlap[:20]) + (f" ... ({len(overlap)} in all)" if len(overlap) > 20
                                          else "")
        raise HideseekError(f"{data.root}: not an external test set: {len(overlap)} patient(s) "
                            f"of the model's training/validation split ({splits_file}): {shown}")
    log.info("%s: %d images as an external test set (no patient overlap with %s)", data.root,
             len(data.records), splits_file)
    return list(data.records)


def select_records(data: CXRDataset, model_dir: Path | None, split: str, *,
                   external: bool = False) -> list[Record]:
    """The records of ``split``: by the model's own ``splits.csv`` (matched on the file name,
    else on the stem: ``x.jpg`` ~ ``x.png``), else by the dataset's ``split`` column.

    Args:
        external: Evaluate all records as data the model never saw; refused when a patient is in
            the model's training or validation split.

    Raises:
        HideseekError: ``external`` with a patient overlap; or, without ``external``, no image
            matches the model's ``splits.csv`` and the data has no split column.
    """
    splits_file = None if model_dir is None else model_dir / "splits.csv"
    rows = read_splits(splits_file) if splits_file is not None and splits_file.is_file() else []
    if external:
        return _external(data, rows, splits_file) if splits_file and rows else list(data.records)
    if split == "all":
        return list(data.records)
    for key in (lambda name: name, _stem):
        assigned = {key(row["filename"]): row["split"] for row in rows}
        known = [r for r in data.records if key(r.filename) in assigned]
        if known:
            chosen = [r for r in known if assigned[key(r.filename)] == split]
            log.info("%d %s images by the model's splits.csv", len(chosen), split)
            return chosen
    if any(r.split for r in data.records):
        return [r for r in data.records if r.split == split]
    if rows:
        raise HideseekError(f"{data.root}: none of these images is in the model's {splits_file} "
                            "and the data has no split column, so they may include training "
                            "patients; to test on data the model never saw, pass --external")
    log.warning("%s: no split information for these images or the model; evaluating all %d",
                data.root, len(data.records))
    return list(data.records)


def bind_task(adapter: ModelAdapter, data: CXRDataset) -> tuple[ModelAdapter, CXRDataset]:
    """The model and the data on one task.

    A hideseek checkpoint knows its task: the data's labels are read as its classes. A model
    trained elsewhere answers the data's task: each output counts for the class its mapping or
    its name gives (:meth:`~hideseek.models.adapter.ModelAdapter.bind`).

    Raises:
        HideseekError: Labels the model's task does not know, or outputs that cannot give the
            data's classes.
    """
    if adapter.spec.target != "label":
        return adapter, data
    if adapter.meta.get("kind") == CHECKPOINT_KIND or data.task is None:
        task = adapter.own_task
        return adapter.bind(task), retask(data, task)
    return adapter.bind(data.task), data


def _adapter_proba(adapter: ModelAdapter, ds: Any, batch_size: int, desc: str) -> np.ndarray:
    from torch.utils.data import DataLoader

    loader = DataLoader(ds, batch_size=batch_size)
    out = [adapter.predict_proba(x)
           for x, _ in progress(loader, desc=desc, total=len(loader), unit="batch")]
    return np.concatenate(out) if out else np.zeros((0, len(adapter.labels)))


def representation_predictions(model: Classifier | ModelAdapter, meta: dict[str, Any],
                               data: CXRDataset, records: list[Record], representation: str,
                               masks_dir: Path | None, originals: set[str], runtime: Runtime,
                               cache_dir: str | Path | None, batch_size: int, *,
                               fill: str | None = None, pair_transform: Any = None,
                               desc: str | None = None) -> Predictions:
    """Predictions of ``model`` on one representation of ``records``; ``fill`` overrides the
    training fill and ``pair_transform`` the representation (the audit's matched controls)."""
    adapter = model if isinstance(model, ModelAdapter) else resolve_model(
        model, meta.get("spec") or ModelSpec(classes=meta["classes"]))
    adapter, data = bind_task(adapter, data.with_records(records))
    records = data.records
    inp = adapter.input
    cfg = config_from_meta(meta, representation).model_copy(
        update={"image_size": inp.size, "crop_top": inp.crop_top})
    if fill is not None:
        cfg = cfg.model_copy(update={"fill": fill})
    classes = adapter.labels
    if cfg.target == "source":
        unseen = {r.source for r in records} - set(classes)
        if unseen:
            log.warning("sources never seen in training are left out: %s", sorted(unseen))
        records = [r for r in records if r.source in classes]
    cache = default_cache_dir() if cache_dir is None else cache_dir
    ds = representation_dataset(data, records, cfg, masks_dir, cache, train=False,
                                originals=originals, square=inp.square,
                                pair_transform=pair_transform,
                                classes=classes if cfg.target == "source" else None)
    prob = _adapter_proba(adapter.to(runtime), ds, batch_size,
                          desc or f"predict {representation}")
    task = adapter.task if cfg.target == "label" else None
    return Predictions(records, ds.targets, prob, classes, task is not None and task.multilabel,
                       task)


def _open(model_path: Any, arch: str | None, spec: ModelSpec | None,
          adapter: ModelAdapter | None) -> tuple[ModelAdapter, Path | None]:
    """The model as an adapter, and the folder of its ``splits.csv`` (None if not a file)."""
    model = resolve_model(adapter or model_path, spec, arch)
    if not isinstance(model_path, str | Path) or not Path(model_path).exists():
        return model, None
    return model, Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent


def evaluate(model_path: str | Path, data: CXRDataset, representation: str | None = None,
             masks_dir: str | Path | None = None, split: str = "test", arch: str | None = None,
             runtime: Runtime | None = None, cache_dir: str | Path | None = None,
             batch_size: int = 32, n_boot: int = 1000, on_bad_mask: str = "exclude", *,
             spec: ModelSpec | None = None, adapter: ModelAdapter | None = None,
             external: bool = False) -> tuple[dict[str, Any], Predictions]:
    """Evaluate a trained model on one representation of the test split.

    Args:
        model_path: Anything :func:`hideseek.models.load_model` reads (a training folder, a
            file, ``torchvision:NAME``...); ignored when ``adapter`` is given.
        spec: The model spec of a foreign model (class order, input, activation).
        adapter: An already loaded model.
        external: Test on every image as data the model never saw (see
            :func:`select_records`).

    Returns:
        The metrics (the stable JSON shape of the CLI) and the predictions.
    """
    model, model_dir = _open(model_path, arch, spec, adapter)
    meta = model.meta
    rep = representation or meta.get("config", {}).get("representation", "data")
    if rep != "data" and masks_dir is None:
        raise HideseekError(f"representation {rep} needs lung masks (--masks DIR)")
    mdir = Path(masks_dir) if masks_dir else None
    usable, originals = usable_records(data, mdir, on_bad_mask)
    records = select_records(data.with_records(usable), model_dir, split, external=external)
    if not records:
        raise HideseekError(f"no {split} images to evaluate in {data.root}")
    preds = representation_predictions(model, meta, data, records, rep, mdir, originals,
                     runtime or Runtime.auto(), cache_dir, batch_size)
    m = preds.metrics(n_boot)
    result = EvalResult(**{f.name: getattr(m, f.name) for f in fields(m)}, representation=rep,
                        split=split, arch=meta.get("arch"), external=external,
                        task=preds.task.to_json() if preds.task is not None else None)
    return to_json(result), preds


#: The value-with-interval formatter (an alias of :func:`hideseek.formatting.format_value_ci`).
format_cell = format_value_ci


def format_table(rows: dict[str, dict[str, Any]], vs_data: dict[str, Any] | None = None) -> str:
    """The paper's layout: one row per representation; accuracy, sensitivity and PPV per class,
    each with its 95% interval (and the paired comparison with ``data`` when given)."""
    if not rows:
        return ""
    labels = next(iter(rows.values()))["labels"]
    short = {"normal": "normal", "pneumonia": "pneumo", "COVID-19": "covid"}
    head = ["representation", "n", "accuracy"]
    head += [f"sens {short.get(c, c)}" for c in labels] + [f"PPV {short.get(c, c)}"
                                                           for c in labels]
    if vs_data:
        head += ["acc diff vs data", "McNemar p"]
    lines = []
    for rep, m in rows.items():
        cells = [rep, str(m["n"]), format_cell(m["accuracy"])]
        cells += [format_cell(m["per_class"][c]["sensitivity"]) for c in labels]
        cells += [format_cell(m["per_class"][c]["ppv"]) for c in labels]
        if vs_data:
            cmp_ = vs_data.get(rep)
            cells += ([format_cell(cmp_["accuracy_difference"]), f"{cmp_['mcnemar_p']:.3g}"]
                      if cmp_ else ["", ""])
        lines.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    return "\n".join(out)


def format_sources(metrics: dict[str, Any]) -> str:
    """Accuracy per data source."""
    lines = ["source           n   accuracy [95% CI]      labels"]
    for source, s in metrics.get("per_source", {}).items():
        labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items() if v)
        lines.append(f"{source:<14} {s['n']:>3}   {format_cell(s['accuracy']):<20}   {labels}")
    return "\n".join(lines)
