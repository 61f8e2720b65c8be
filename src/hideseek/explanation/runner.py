"""``hideseek cam``: Grad-CAM maps and attribution-in-lungs numbers for a trained model."""

from __future__ import annotations

import csv
import logging
import typing
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hideseek.classification.data import usable_records
from hideseek.classification.evaluate import bind_task, select_records
from hideseek.data.cache import default_cache_dir
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.explanation.cam_model import CamModel, cam_model, make_explainer, model_dir_of
from hideseek.explanation.gradcam import CamBatch
from hideseek.explanation.measures import (
    CamRepresentation,
    CamResult,
    attribution_numbers,
    null_numbers,
    outside_region,
    summarise,
)
from hideseek.jsonio import dumps, to_json
from hideseek.models.architectures import Classifier
from hideseek.models.spec import ModelSpec
from hideseek.progress import progress
from hideseek.representations.registry import get_representation
from hideseek.representations.transforms import lung_boxes
from hideseek.runtime import Runtime
from hideseek.segmentation.postprocess import boxes_mask
from hideseek.task import Task

#: Path -> (classifier in eval mode, its metadata), the shape of ``load_classifier``.
ModelLoad = Callable[[str | Path], Any]

__all__ = ["ModelLoad", "cam_classes", "cam_dataset", "figure3", "finding_names", "run_cam",
           "stratified_sample"]

log = logging.getLogger(__name__)


@torch.no_grad()
def _occlusion(model: nn.Module, x: torch.Tensor, masks: np.ndarray, pred: torch.Tensor,
               rt: Runtime, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop of the predicted class's probability when the lungs / an equal area outside them
    are blanked (set to 0, the paper's fill)."""
    rng = np.random.default_rng(seed)
    lungs = torch.from_numpy(masks)[:, None].to(x.device)
    outside = torch.from_numpy(np.stack([outside_region(m, rng) for m in masks]))[:, None]
    drops = []
    with rt.autocast():
        base = model(x).float().softmax(1)
        for region in (lungs, outside.to(x.device)):
            p = model(x.masked_fill(region, 0.0)).float().softmax(1)
            drops.append((base - p).gather(1, pred.view(-1, 1))[:, 0].cpu().numpy())
    return drops[0], drops[1]


def stratified_sample(records: list[Record], n: int, seed: int = 0) -> list[Record]:
    """A seeded random sample of ``n`` records stratified by (label, source): each stratum
    gets its share (largest remainders), at least one while ``n`` allows; dataset order kept."""
    if n >= len(records):
        return list(records)
    strata: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(records):
        strata.setdefault((r.label or "", r.source), []).append(i)
    keys = sorted(strata)
    exact = np.array([len(strata[k]) * n / len(records) for k in keys])
    take = np.floor(exact).astype(int)
    if n >= len(keys):
        take = np.maximum(take, 1)
    for k in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if take.sum() >= n:
            break
        take[k] += 1
    rng = np.random.default_rng(seed)
    chosen = [j for k, t in zip(keys, take, strict=True)
              for j in rng.permutation(strata[k])[: min(int(t), len(strata[k]))]]
    return [records[i] for i in sorted(chosen)]


def finding_names(finding: str) -> tuple[str, str]:
    """The two row labels of a multi-label explanation: the finding and its absence."""
    return finding, f"no {finding}"


def _label_names(ds: Any, y: torch.Tensor, pred: torch.Tensor, prob: torch.Tensor,
                 finding: int | None) -> tuple[list[str], list[str], list[float]]:
    """Each image's true and predicted label and the predicted label's probability; for a
    multi-label explanation of ``finding``: the finding or its absence."""
    if finding is None:
        return ([ds.classes[int(t)] for t in y], [ds.classes[int(p)] for p in pred],
                [float(prob[i, p]) for i, p in enumerate(pred)])
    yes, no = finding_names(ds.classes[finding])
    p = prob[:, finding]
    return ([yes if float(t[finding]) > 0 else no for t in y],
            [yes if float(v) >= 0.5 else no for v in p], [float(v) for v in p])


def _rows(ds: Any, start: int, y: torch.Tensor, out: CamBatch, masks: np.ndarray,
          occ: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
          finding: int | None = None) -> list[dict[str, Any]]:
    """The per-image rows of one batch: measures, their nulls, occlusion."""
    truth, predicted, probability = _label_names(ds, y, out.prob.argmax(1), out.prob, finding)
    pm, tm = out.maps["predicted"].cpu().numpy(), out.maps["true"].cpu().numpy()
    grid = out.grid if out.grid[0] > 0 else tuple(masks.shape[-2:])
    rows = []
    for i in range(len(y)):
        rec = ds.records[start + i]
        boxes = boxes_mask(masks[i].shape, lung_boxes(masks[i]))
        nums = attribution_numbers(pm[i], masks[i], boxes)
        nulls = null_numbers(masks[i], boxes, grid, rng)
        rows.append({"filename": rec.filename, "patient_id": rec.patient_id,
                     "source": rec.source, "label": truth[i], "prediction": predicted[i],
                     "probability": probability[i], **nums,
                     "lung_share_true_class": attribution_numbers(tm[i], masks[i],
                                                                  boxes)["lung_share"],
                     "occlusion_lungs": float(occ[0][i]), "occlusion_outside": float(occ[1][i]),
                     "occlusion": float(occ[0][i] - occ[1][i]),
                     "lung_area": float(masks[i].mean()), "box_area": float(boxes.mean()),
                     **{f"null_{k}": v for k, v in nulls.items()},
                     "grid": f"{grid[0]}x{grid[1]}"})
    return rows


def cam_dataset(model: Classifier | nn.Module, ds: Any, rt: Runtime, batch_size: int = 16,
                keep_maps: bool = True, seed: int = 0, desc: str = "cam",
                method: str = "gradcam", *, layer: nn.Module | None = None,
                finding: int | None = None,
                ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Attribution maps (predicted and true class) and the numbers for every image of ``ds``.

    Args:
        method: A registered explainer (:func:`hideseek.explanation.registry.get_explainer`);
            Grad-CAM's target layer is chosen for the images' size (>= 7 x 7 cells).
        layer: Grad-CAM's target layer instead (:func:`hideseek.explanation.cam_model`).
        finding: A multi-label model: the finding (output index) explained in every image;
            its presence and absence are the rows' two labels.

    Returns:
        Per-image rows (measures, their nulls at the map's resolution, occlusion) and, with
        ``keep_maps``, the raw maps (``predicted``, ``true``: N x H x W float16) in dataset order.
    """
    rt.model(model)
    size = int(ds[0][0].shape[-1]) if len(ds) else None
    explain = make_explainer(method, model, layer, size)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    maps: dict[str, list[np.ndarray]] = {"predicted": [], "true": []}
    start = 0
    loader = DataLoader(ds, batch_size=batch_size)
    for x, y in progress(loader, desc=desc, total=len(loader), unit="batch"):
        x = rt.batch(x)
        if finding is None:
            targets = {"predicted": None, "true": y.to(x.device)}
            shown = None
        else:  # one finding, whatever the image's labels
            shown = torch.full((len(y),), finding, dtype=torch.long, device=x.device)
            targets = {"predicted": shown, "true": shown}
        out = explain(x, targets, autocast=rt.amp)
        masks = np.stack([ds.mask(start + i) for i in range(len(y))])
        occ = _occlusion(model, x, masks, out.prob.argmax(1) if shown is None else shown, rt,
                         seed + start)
        rows += _rows(ds, start, y, out, masks, occ, rng, finding)
        if keep_maps:
            for k in maps:
                maps[k].append(out.maps[k].cpu().numpy().astype(np.float16))
        start += len(y)
    stacked = {k: np.concatenate(v) for k, v in maps.items() if v}
    return rows, stacked


def _cam_models(models: dict[str, str | Path], load: ModelLoad | None, spec: ModelSpec | None,
                arch: str | None, target_layer: str | None,
                method: str, data: CXRDataset) -> tuple[dict[str, CamModel], CXRDataset]:
    """Each representation's model, loaded once (through ``load`` when given), and the data
    read as their task (:func:`~hideseek.classification.evaluate.bind_task`)."""
    out = {}
    for rep, m in models.items():
        cm = cam_model(load(m) if load else m, spec=spec, arch=arch,
                       target_layer=target_layer, method=method, task=data.task)
        out[rep] = replace(cm, model_dir=model_dir_of(m)) if load else cm
    tasks = {cm.adapter.task for cm in out.values()}
    if len(tasks) > 1:
        raise HideseekError("the models explained together answer different tasks: "
                            + "; ".join(t.describe() for t in tasks))
    first = next(iter(out.values()))
    _, data = bind_task(first.adapter, data)
    return out, data


def _finding(task: Task, target: str | None) -> int | None:
    """The output explained: None (the predicted / true class) for a multiclass task; for a
    multi-label one the finding ``target`` names (default: the primary, else the first)."""
    if not task.multilabel:
        if target is not None:
            raise HideseekError("--target chooses a finding of a multi-label model; a "
                                "multiclass model is explained for its predicted and true class")
        return None
    name = target or task.primary or task.classes[0]
    found = task.normalise(name)
    if found is None:
        raise HideseekError(f"unknown finding {name!r}; the model's findings: "
                            f"{', '.join(task.classes)}")
    return task.index(found)


def cam_classes(task: Task, target: str | None = None) -> list[str]:
    """The row labels of the numbers: the classes, or a finding and its absence."""
    finding = _finding(task, target)
    return list(task.classes) if finding is None else list(finding_names(task.classes[finding]))


def run_cam(models: dict[str, str | Path], data: CXRDataset, masks_dir: str | Path,
            out: str | Path, split: str = "test", runtime: Runtime | None = None,
            cache_dir: str | Path | None = None, batch_size: int = 16,
            max_images: int | None = None, n_boot: int = 1000,
            on_bad_mask: str = "exclude", method: str = "gradcam",
            seed: int = 0, *, spec: ModelSpec | None = None, arch: str | None = None,
            target_layer: str | None = None,
            load: ModelLoad | None = None, target: str | None = None) -> dict[str, Any]:
    """Attribution numbers per representation, each beside its null.

    Args:
        models: Representation -> model (anything :func:`hideseek.models.resolve_model`
            takes; ONNX: occlusion only): one model for all is the test-time audit.
        data: The dataset; ``split`` of it is used (by the first model's ``splits.csv``).
        masks_dir: Lung masks.
        out: Folder for ``cam.json``, ``per_image.csv`` and ``maps_<representation>.npz``.
        max_images: A stratified (label x source), seeded random sample of this many images.
        method: A registered explainer (``gradcam``, ``occlusion``, ...).
        seed: Seed of the sample, the null maps and the bootstrap.
        spec: The model spec of foreign models (class order, input, activation).
        arch: Architecture of plain state dicts.
        target_layer: Grad-CAM layer by name (default: found at the model's input size).
        load: Path -> loaded model (a run's ``ModelCache.adapter``); default: read the file.
        target: A multi-label model: the finding explained (default: the primary, else the
            first); the numbers are per presence / absence of it.

    Returns:
        ``{"representations": {rep: {"per_class": {class: {"lung_share", "lung_ratio",
        "box_share", "pointing", "occlusion": {"value", "ci", "null", "null_uniform"},
        "n_zero_maps", "by_outcome"}}}}}`` (also ``cam.json``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rt = runtime or Runtime.auto()
    cache = default_cache_dir() if cache_dir is None else cache_dir
    mdir = Path(masks_dir)
    loaded, data = _cam_models(models, load, spec, arch, target_layer, method, data)
    first = next(iter(loaded.values()))
    finding = _finding(first.adapter.task, target) if first.adapter.spec.target == "label" \
        else None
    usable, originals = usable_records(data, mdir, on_bad_mask)
    records = select_records(data.with_records(usable), first.model_dir, split)
    records = stratified_sample(records, max_images, seed) if max_images else records
    if not records:
        raise HideseekError(f"no {split} images for Grad-CAM in {data.root}")
    result = CamResult(split, len(records), method, {})
    all_rows = []
    for rep, model_path in models.items():
        get_representation(rep)  # an unknown name is a clear error listing the choices
        cm = loaded[rep]
        meta = cm.meta
        ds = cm.dataset(data, records, rep, mdir, cache, originals)
        rows, maps = cam_dataset(cm.module, ds, rt, batch_size, seed=seed, desc=f"cam {rep}",
                                 method=method, layer=cm.layer, finding=finding)
        np.savez_compressed(out / f"maps_{rep}.npz", filenames=np.array(
            [r["filename"] for r in rows]), **maps)  # type: ignore[arg-type]
        all_rows += [{**r, "representation": rep} for r in rows]
        result.representations[rep] = CamRepresentation(
            str(model_path), meta.get("arch"), rows[0]["grid"] if rows else None,
            summarise(rows, ds.classes if finding is None else list(finding_names(
                ds.classes[finding])), n_boot, seed))
    _write_outputs(out, all_rows, result)
    return typing.cast(dict[str, Any], to_json(result))


def _write_outputs(out: Path, rows: list[dict[str, Any]], result: CamResult) -> None:
    """``per_image.csv`` (one row per image and representation) and ``cam.json``."""
    with (out / "per_image.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "cam.json").write_text(dumps(result))


def figure3(models: dict[str, str | Path], data: CXRDataset, masks_dir: str | Path,
            out_png: str | Path, split: str = "test", runtime: Runtime | None = None,
            cache_dir: str | Path | None = None, title: str = "", *,
            spec: ModelSpec | None = None, arch: str | None = None,
            target_layer: str | None = None, method: str = "gradcam",
            load: ModelLoad | None = None, target: str | None = None) -> Path:
    """The paper's Fig. 3: one image per true class (the same image in every column), each
    representation's attribution map (``method``) and prediction; ``spec``, ``arch``,
    ``target_layer`` and ``target`` as in :func:`run_cam`."""
    from hideseek.explanation.figures import cam_grid

    rt = runtime or Runtime.auto()
    cache = default_cache_dir() if cache_dir is None else cache_dir
    mdir = Path(masks_dir)
    loaded, data = _cam_models(models, load, spec, arch, target_layer, method, data)
    first = next(iter(loaded.values()))
    task = first.adapter.task
    finding = _finding(task, target) if first.adapter.spec.target == "label" else None
    usable, originals = usable_records(data, mdir)
    records = select_records(data.with_records(usable), first.model_dir, split)
    rows_of = cam_classes(task, target)
    chosen = []
    for label in rows_of:
        match = [r for r in records if r.label == label] if finding is None else [
            r for r in records if (task.classes[finding] in r.findings) == (label == rows_of[0])]
        if match:
            chosen.append(match[0])
    tiles = {}
    shown = ""
    for rep in models:
        cm = loaded[rep]
        shown = cm.meta.get("arch", "")
        ds = cm.dataset(data, chosen, rep, mdir, cache, originals)
        rows, maps = cam_dataset(cm.module, ds, rt, batch_size=len(chosen), desc=f"fig3 {rep}",
                                 method=method, layer=cm.layer, finding=finding)
        for i, row in enumerate(rows):
            tiles[(row["label"], rep)] = (ds.array(i), maps["predicted"][i].astype(np.float32),
                                          row["prediction"], row["probability"])
    return cam_grid(out_png, tiles, rows_of, list(models),
                    title or f"Grad-CAM of {shown} (rows: true class; columns: representation)")
