"""``hideseek run protocol.yaml``: the whole protocol, resumable, local or on a Ray cluster.

segmentation (if no masks) -> mask QC + Fig. 1 -> cells (architecture x representation x seed:
train, evaluate) -> paired comparisons and verdicts -> audits -> Grad-CAM numbers -> source
probe -> report.
"""

from __future__ import annotations

import logging
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hideseek.classification.config import TrainConfig
from hideseek.classification.results import Comparison, EvalResult
from hideseek.classification.stats import paired_comparison
from hideseek.data.cache import default_cache_dir
from hideseek.data.manifest import CXRDataset, load_dataset
from hideseek.jsonio import dumps, from_json, to_json
from hideseek.naming import safe_name
from hideseek.protocol.cells import CellResult, CellSpec, cell_is_done, run_cell
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.executors import run_cells
from hideseek.protocol.freshness import (
    Freshness,
    InputHashes,
    input_hashes,
    read_stamped,
    stage_hash,
)
from hideseek.protocol.layout import CellKey, RunLayout
from hideseek.protocol.models import ModelCache
from hideseek.protocol.results import (
    AuditRecord,
    CamRecord,
    ProbeRecord,
    RunResult,
    VerdictRecord,
)
from hideseek.protocol.rule import PredictionSet, decide, read_predictions
from hideseek.runtime import Runtime
from hideseek.task import Task

__all__ = ["run_protocol"]

log = logging.getLogger(__name__)


def _index_files(cfg: ProtocolConfig, data: CXRDataset) -> list[Path]:
    """The manifest / split files the data was read from."""
    files = [Path(d) / "manifest.csv" if Path(d).is_dir() else Path(d) for d in cfg.data]
    return files + [f for f in data.split_files if f not in files]


def _environment(cfg: ProtocolConfig, hashes: InputHashes) -> dict[str, Any]:
    import torch
    import torchvision

    from hideseek import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip() or None
    except OSError:
        commit = None
    return {"hideseek": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": commit, "data_hash": hashes.data, "masks_hash": hashes.masks,
            "code": hashes.code, "cuda": torch.cuda.is_available(),
            "hash": stage_hash({"config": cfg.model_dump(mode="json"), "data": hashes.data,
                                "masks": hashes.masks, "code": hashes.code})}


def _masks(cfg: ProtocolConfig, data: CXRDataset, layout: RunLayout, rt: Runtime) -> Path:
    if cfg.masks:
        return Path(cfg.masks)
    from hideseek.segmentation import load_segmenter, predict_dataset

    seg = layout.segmentation
    model, size, meta = load_segmenter(cfg.segmentation_model)
    counts = predict_dataset(data, seg, model, size, runtime=rt,
                             qc_ranges=meta.get("qc_ranges"))
    log.info("segmentation: %s", counts)
    return seg / "masks"


def _qc_and_fig1(cfg: ProtocolConfig, data: CXRDataset, masks: Path,
                 layout: RunLayout) -> list[Any]:
    from hideseek.representations import (
        assess_masks,
        mask_qc_table,
        representation_figure,
        resolve_masks_dir,
    )
    from hideseek.representations.figure import figure_samples

    infos = assess_masks(data, resolve_masks_dir(masks))
    qc = mask_qc_table(infos)
    layout.mask_qc.write_text(dumps({"table": qc, "bad": {
        i.filename: i.problem for i in infos if i.bad}}))
    samples = figure_samples(data, infos)
    if samples:
        representation_figure(layout.fig1, samples, cfg.fill, cfg.box_margin)
    return qc


def _load_predictions(layout: RunLayout, key: CellKey) -> dict[str, dict[str, str]]:
    import csv

    with layout.predictions(key).open() as fh:
        return {r["filename"]: r for r in csv.DictReader(fh)}


def _compare(base: dict[str, dict[str, str]], other: dict[str, dict[str, str]],
             n_boot: int) -> Comparison:
    names = [n for n in base if n in other]
    findings = [c[2:] for c in next(iter(base.values()), {}) if c.startswith("y_")]
    if findings:  # multi-label: one decision per image and known finding (as its accuracy)
        keep = [(n, f) for n in names for f in findings if base[n][f"y_{f}"] != ""]

        def said(row: dict[str, str], f: str) -> int:
            return int(f in row["prediction"].split("|"))

        return paired_comparison([int(base[n][f"y_{f}"]) for n, f in keep],
                                 [said(base[n], f) for n, f in keep],
                                 [said(other[n], f) for n, f in keep],
                                 [base[n]["patient_id"] for n, _ in keep], n_boot)
    labels = sorted({base[n]["label"] for n in names} | {other[n]["prediction"] for n in names}
                    | {base[n]["prediction"] for n in names})
    idx = {lab: i for i, lab in enumerate(labels)}
    return paired_comparison([idx[base[n]["label"]] for n in names],
                             [idx[base[n]["prediction"]] for n in names],
                             [idx[other[n]["prediction"]] for n in names],
                             [base[n]["patient_id"] for n in names], n_boot)


def _paired(cfg: ProtocolConfig,
            layout: RunLayout) -> dict[str, dict[str, dict[str, Comparison]]]:
    """McNemar and the paired accuracy difference of every representation vs ``data``, per
    architecture and seed (``comparisons.json``)."""
    comparisons: dict[str, dict[str, dict[str, Comparison]]] = {}
    for arch in cfg.architectures:
        comparisons[arch] = {}
        for seed in cfg.seeds:
            base = _load_predictions(layout, CellKey(arch, "data", seed))
            comparisons[arch][f"seed{seed}"] = {
                rep: _compare(base, _load_predictions(layout, CellKey(arch, rep, seed)),
                              cfg.n_boot)
                for rep in cfg.representations if rep != "data"}
    return comparisons


def _legacy_figures(cells: dict[CellKey, CellResult], cfg: ProtocolConfig, arch: str,
                    comparisons: dict[str, Any]) -> dict[str, Any]:
    """The accuracy figures of earlier ``verdicts.json`` files (first seed; information only:
    the verdict itself rests on balanced accuracy and AUC, see docs/VERDICTS.md)."""
    seed = cfg.seeds[0]
    base = cells[CellKey(arch, "data", seed)].eval
    figs: dict[str, Any] = {f"accuracy_{rep}": to_json(cells[CellKey(arch, rep, seed)].eval
                                                       .accuracy)
                            for rep in cfg.representations}
    cm = base.confusion_matrix
    n = sum(sum(row) for row in cm)
    figs["chance"] = chance = max(sum(row) for row in cm) / n if n else 1.0
    multilabel = (base.task or {}).get("kind") == "multilabel"
    if multilabel:  # its rows are per-finding counts: no accuracy chance level
        figs["chance"] = None
    removed = comparisons.get(arch, {}).get(f"seed{seed}", {}).get("lungs_removed")
    if removed is not None and multilabel:
        figs["mcnemar_p"] = removed["mcnemar_p"]
        figs["accuracy_difference"] = removed["accuracy_difference"]
    elif removed is not None:
        acc_d, acc_r = base.accuracy.value or 0.0, removed["accuracy_b"]
        figs["retained"] = ((acc_r - chance) / (acc_d - chance) if acc_d > chance
                            else float("nan"))
        figs["mcnemar_p"] = removed["mcnemar_p"]
        figs["accuracy_difference"] = removed["accuracy_difference"]
    figs["n_test"] = base.n
    return figs


def _verdicts(cells: dict[CellKey, CellResult], cfg: ProtocolConfig,
              layout: RunLayout, comparisons: dict[str, Any],
              task: Task | None) -> dict[str, Any]:
    """One verdict per architecture from every seed's predictions (see docs/VERDICTS.md)."""
    verdicts: dict[str, Any] = {}
    margins = cfg.verdict_margins()
    for arch in cfg.architectures:
        preds = {rep: [read_predictions(layout.predictions(CellKey(arch, rep, s)))
                       for s in cfg.seeds] for rep in cfg.representations}
        conv = {rep: [cells[CellKey(arch, rep, s)].train.get("convergence")
                      for s in cfg.seeds] for rep in cfg.representations}
        v = decide(preds, margins, seeds=cfg.seeds, task=task, convergence=conv).to_json()
        v["convergence"] = {rep: records[0] if len(records) == 1 else records
                            for rep, records in conv.items()}
        v["figures"] = _legacy_figures(cells, cfg, arch, comparisons)
        v["seed"] = cfg.seeds[0]
        v["split_seed"] = cfg.split_seed
        verdicts[f"{cfg.name}/{arch}"] = v
    return verdicts


def _specs(cfg: ProtocolConfig, layout: RunLayout, masks: Path,
           hashes: InputHashes) -> list[CellSpec]:
    """One spec per cell; every cell shares the one test split (``split_seed``)."""
    cache = str(default_cache_dir())
    specs = []
    declared = {"task": cfg.task} if cfg.task is not None else {}
    for arch in cfg.architectures:
        for rep in cfg.representations:
            for seed in cfg.seeds:
                train = TrainConfig(**{**cfg.train, **declared, "arch": arch,
                                       "representation": rep, "seed": seed,
                                       "split_seed": cfg.split_seed, "fill": cfg.fill,
                                       "box_margin": cfg.box_margin})
                specs.append(CellSpec(list(cfg.data), cfg.images, str(masks), train,
                                      cfg.on_bad_mask, cfg.n_boot, hashes.data, hashes.masks,
                                      hashes.code, cache,
                                      str(layout.cell(CellKey(arch, rep, seed)))))
    return specs


def run_protocol(cfg: ProtocolConfig, runtime: Runtime | None = None) -> RunResult:
    """Run (or resume) the protocol; returns the results that the report is made from.

    Writes ``config.resolved.yaml``, ``environment.json``, ``cells/``, ``comparisons.json``,
    ``verdicts.json``, ``audit/``, ``cam/``, ``probe/``, ``figures/``, ``results.json`` (the
    returned :class:`~hideseek.protocol.results.RunResult`) and ``report.html`` under
    ``cfg.output`` (see :class:`~hideseek.protocol.layout.RunLayout`).
    """
    from hideseek.protocol.report import write_report
    from hideseek.representations import resolve_masks_dir

    layout = RunLayout(Path(cfg.output))
    layout.root.mkdir(parents=True, exist_ok=True)
    rt = runtime or Runtime.auto()
    data = load_dataset(cfg.data if len(cfg.data) > 1 else cfg.data[0], images=cfg.images,
                        task=cfg.declared_task())
    layout.config.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    masks = resolve_masks_dir(_masks(cfg, data, layout, rt))
    hashes = input_hashes(data, _index_files(cfg, data), masks)
    env = _environment(cfg, hashes)
    layout.environment.write_text(dumps(env))
    qc = _qc_and_fig1(cfg, data, masks, layout)
    fresh = Freshness()
    specs = _specs(cfg, layout, masks, hashes)
    for spec in specs:
        t = spec.train
        fresh.note(f"cell {CellKey(t.arch, t.representation, t.seed).id}", cell_is_done(spec))
    results = run_cells(run_cell, specs, cfg.executor, cfg.ray_address, cfg.cpus_per_cell,
                        cfg.gpus_per_cell)
    cells = {CellKey(r.arch, r.representation, r.seed): r for r in results}
    stages = _StageInputs(cfg, data, masks, layout, rt, hashes, fresh,
                          {k: c.hash for k, c in cells.items()}, ModelCache())
    paired = _paired(cfg, layout)
    comparisons = to_json(paired)
    layout.comparisons.write_text(dumps(comparisons))
    verdicts = _verdicts(cells, cfg, layout, comparisons, data.task)
    if cfg.mask_perturbation:
        for arch, found in _mask_perturbations(stages, verdicts).items():
            verdicts[f"{cfg.name}/{arch}"]["mask_perturbation"] = found
    layout.verdicts.write_text(dumps(verdicts))
    audits = _audits(stages) if cfg.audit else {}
    cams = _cams(stages) if cfg.cam else {}
    probe = _probe(stages) if cfg.probe_source else None
    external = _external_tests(stages) if cfg.external_test else {}
    result = RunResult(
        config=cfg.model_dump(mode="json"), environment=env, mask_qc=qc,
        figures={"fig1": str(layout.fig1)}, cells={k.id: c for k, c in cells.items()},
        comparisons=paired,
        verdicts={k: from_json(VerdictRecord, v) for k, v in verdicts.items()},
        audits={a: from_json(AuditRecord, r) for a, r in audits.items()},
        cam={a: from_json(CamRecord, r) for a, r in cams.items()},
        probe=from_json(ProbeRecord, probe) if probe is not None else None,
        external_test={k: from_json(EvalResult, m) for k, m in external.items()},
        reused=fresh.reused, redone=fresh.redone, skipped=_skipped(cfg, data, probe))
    layout.results.write_text(dumps(result, default=str))
    write_report(result, layout.root)
    return result


def _skipped(cfg: ProtocolConfig, data: CXRDataset,
             probe: dict[str, Any] | None) -> dict[str, str]:
    """The stages that did not run (or trained nothing), each with the reason in words."""
    out: dict[str, str] = {}
    if not cfg.audit:
        out["audit"] = "turned off in the config (audit: false)"
    if not cfg.cam:
        out["cam"] = "turned off in the config (cam: false)"
    if not cfg.probe_source:
        out["probe"] = "turned off in the config (probe_source: false)"
    elif probe is None:
        sources = sorted({r.source for r in data.records})
        out["probe"] = (f"one data source only ({', '.join(map(str, sources)) or 'none'}): the "
                        "probe predicts the source, so it needs at least two")
    elif probe.get("note"):
        out["probe"] = str(probe["note"])
    if not cfg.external_test:
        out["external_test"] = "no external test set in the config (external_test)"
    if not cfg.mask_perturbation:
        out["mask_perturbation"] = ("not asked for (mask_perturbation: false): the verdicts were "
                                    "not made again on shrunk and grown lung masks")
    return out


@dataclass(frozen=True)
class _StageInputs:
    """What the stages after the cells read, and the hashes their outputs are stamped with."""

    cfg: ProtocolConfig
    data: CXRDataset
    masks: Path
    layout: RunLayout
    rt: Runtime
    hashes: InputHashes
    fresh: Freshness
    cell_hashes: dict[CellKey, str]
    loaded: ModelCache  # each checkpoint read once, shared by the audit and Grad-CAM

    def hash_of(self, stage: str, arch: str, reps: list[str], **extra: Any) -> str:
        """Hash of one stage: the cells it reads, the data, masks, code and ``extra``."""
        cfg = self.cfg
        cells = {rep: self.cell_hashes.get(CellKey(arch, rep, cfg.seeds[0])) for rep in reps}
        return stage_hash({"stage": stage, "arch": arch, "cells": cells,
                           "representations": list(cfg.representations), "fill": cfg.fill,
                           "box_margin": cfg.box_margin, "n_boot": cfg.n_boot,
                           "on_bad_mask": cfg.on_bad_mask, "data": self.hashes.data,
                           "masks": self.hashes.masks, "code": self.hashes.code, **extra})


def _stamped(st: _StageInputs, name: str, path: Path, h: str,
             compute: Callable[[], dict[str, Any]], *, ready: bool = True) -> dict[str, Any]:
    """The stage's JSON at ``path`` when stamped with ``h`` (and ``ready``: its other outputs
    are there), noted as reused; else ``compute()`` stamped with ``h``, written and noted
    as redone."""
    found = read_stamped(path, h) if ready else None
    st.fresh.note(name, found is not None)
    if found is not None:
        return found
    out = {**compute(), "hash": h}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(out, default=str))
    return out


def _perturbed_set(st: _StageInputs, arch: str, rep: str, change: float) -> PredictionSet:
    """A cell's model on its own test images, the lung masks grown or shrunk first."""
    from hideseek.classification.data import usable_records
    from hideseek.classification.evaluate import representation_predictions, select_records
    from hideseek.representations.transforms import Representation

    cfg = st.cfg
    path = st.layout.cell(CellKey(arch, rep, cfg.seeds[0]))
    usable, originals = usable_records(st.data, st.masks, cfg.on_bad_mask)
    records = select_records(st.data.with_records(usable), path, "test")
    adapter = st.loaded.adapter(path)
    pair = Representation(rep, cfg.fill, cfg.box_margin, guard=1, mask_change=change)
    p = representation_predictions(adapter, adapter.meta, st.data, records, rep, st.masks,
                                   originals, st.rt, None, 32, pair_transform=pair,
                                   desc=f"predict {rep} (mask {change:+.0%})")
    return PredictionSet(tuple(r.filename for r in p.records),
                         tuple(r.patient_id for r in p.records), np.asarray(p.y),
                         np.asarray(p.prob), tuple(p.classes), p.multilabel)


def _perturbed_masks(st: _StageInputs, name: str, change: float) -> tuple[Path, str]:
    """The run's lung masks grown (``change`` > 0) or shrunk, each at its image's resolution,
    written once under ``mask_perturbation/masks-<name>``; with the hash of what they derive
    from (rewritten when the masks change)."""
    import shutil

    from hideseek.data.io import image_shape, read_mask, write_png
    from hideseek.data.masks import find_mask, mask_name
    from hideseek.representations.masks import perturb_mask

    folder = st.layout.root / "mask_perturbation" / f"masks-{name}"
    h = stage_hash({"masks": st.hashes.masks, "change": change})
    stamp = folder / "masks.hash"
    if stamp.is_file() and stamp.read_text() == h:
        return folder, h
    shutil.rmtree(folder, ignore_errors=True)
    for r in st.data.records:
        path = find_mask(st.masks, r.filename)
        if path is not None:
            mask = read_mask(path, image_shape(st.data.image_path(r)))
            write_png(folder / mask_name(r.filename), perturb_mask(mask, change))
    stamp.write_text(h)
    return folder, h


def _retrained_sets(st: _StageInputs, arch: str, reps: list[str], name: str,
                    change: float) -> dict[str, PredictionSet]:
    """The hidden versions' cells trained again (first seed) on masks grown or shrunk by
    ``change``, each tested on its own test images hidden with those masks (resumable cells
    under ``mask_perturbation/<name>/``)."""
    from dataclasses import replace

    cfg, root = st.cfg, st.layout.root
    masks, h = _perturbed_masks(st, name, change)
    specs = [replace(s, masks=str(masks), masks_hash=h,
                     out=str(root / "mask_perturbation" / name / Path(s.out).relative_to(root)))
             for s in _specs(cfg, st.layout, st.masks, st.hashes)
             if s.train.arch == arch and s.train.representation in reps
             and s.train.seed == cfg.seeds[0]]
    run_cells(run_cell, specs, cfg.executor, cfg.ray_address, cfg.cpus_per_cell,
              cfg.gpus_per_cell)
    return {s.train.representation: read_predictions(Path(s.out) / "predictions.csv")
            for s in specs}


def _mask_perturbations(st: _StageInputs, verdicts: dict[str, Any]) -> dict[str, Any]:
    """Each architecture's verdict again with its hidden-version models re-tested on masks
    shrunk and grown by :data:`~hideseek.representations.masks.MASK_CHANGE` of the lung width
    (first seed; no retraining), or - ``mask_perturbation: retrain`` - trained again on them."""
    from hideseek.representations.masks import MASK_CHANGE
    from hideseek.representations.registry import get_representation

    cfg = st.cfg
    retrain = cfg.mask_perturbation == "retrain"
    out = {}
    for arch in cfg.architectures:
        reps = [r for r in cfg.representations if r != "data"
                and get_representation(r).needs_mask]
        base = {rep: read_predictions(st.layout.predictions(CellKey(arch, rep, cfg.seeds[0])))
                for rep in cfg.representations}

        def compute(arch: str = arch, reps: list[str] = reps,
                    base: dict[str, PredictionSet] = base) -> dict[str, Any]:
            found: dict[str, Any] = {"change": MASK_CHANGE, "seed": cfg.seeds[0],
                                     "retrained": retrain}
            for name, change in (("erode", -MASK_CHANGE), ("dilate", MASK_CHANGE)):
                moved = {**base, **(
                    _retrained_sets(st, arch, reps, name, change) if retrain else
                    {rep: _perturbed_set(st, arch, rep, change) for rep in reps})}
                v = decide({r: [p] for r, p in moved.items()}, cfg.verdict_margins(),
                           seeds=cfg.seeds[:1], task=st.data.task)
                found[name] = {"verdict": v.verdict, "flags": list(v.flags)}
            return found

        found = _stamped(st, f"mask perturbation {arch}",
                         st.layout.root / "mask_perturbation" / f"{safe_name(arch)}.json",
                         st.hash_of("mask_perturbation", arch, list(cfg.representations),
                                    retrain=retrain),
                         compute)
        verdict = verdicts[f"{cfg.name}/{arch}"]["verdict"]
        found = {k: v for k, v in found.items() if k != "hash"}
        found["verdict"] = verdict
        found["holds"] = all(found[k]["verdict"] == verdict for k in ("erode", "dilate"))
        out[arch] = found
    return out


def _audits(st: _StageInputs) -> dict[str, Any]:
    from hideseek.classification.audit import audit

    cfg = st.cfg

    def one(arch: str) -> dict[str, Any]:
        model = st.layout.cell(CellKey(arch, "data", cfg.seeds[0]))
        r, _ = audit(model, st.data, st.masks, tuple(cfg.representations), runtime=st.rt,
                     n_boot=cfg.n_boot, on_bad_mask=cfg.on_bad_mask,
                     adapter=st.loaded.adapter(model),
                     mask_perturb=bool(cfg.mask_perturbation))  # the audit never retrains
        return r

    return {arch: _stamped(st, f"audit {arch}", st.layout.audit(arch),
                           st.hash_of("audit", arch, ["data"],
                                      mask_perturbation=bool(cfg.mask_perturbation)),
                           partial(one, arch))
            for arch in cfg.architectures}


def _cam(st: _StageInputs, arch: str, folder: Path) -> dict[str, Any]:
    """Grad-CAM numbers, the ratio plot and Fig. 3 of one architecture's cells."""
    from hideseek.explanation import figure3, ratio_plot, run_cam

    cfg = st.cfg
    models: dict[str, str | Path] = {
        rep: st.layout.cell(CellKey(arch, rep, cfg.seeds[0])) for rep in cfg.representations}
    r = run_cam(models, st.data, st.masks, folder, runtime=st.rt,
                max_images=cfg.cam_max_images, n_boot=cfg.n_boot, on_bad_mask=cfg.on_bad_mask,
                method=cfg.cam_method, load=st.loaded.adapter)
    classes = [c for c in next(iter(r["representations"].values()))["per_class"]
               if c != "all"] if r["representations"] else []
    ratio_plot(folder / "lung_ratio.png", r, classes,
               title=f"{arch}: Grad-CAM attribution in the lungs / lung area (95% CI)")
    figure3(models, st.data, st.masks, folder / "fig3.png", runtime=st.rt,
            load=st.loaded.adapter, method=cfg.cam_method)
    return {**r, "folder": str(folder)}


def _cams(st: _StageInputs) -> dict[str, Any]:
    cfg, res = st.cfg, {}
    for arch in cfg.architectures:
        folder = st.layout.cam(arch)
        h = st.hash_of("cam", arch, list(cfg.representations), max_images=cfg.cam_max_images)
        res[arch] = _stamped(st, f"cam {arch}", folder / "cam.json", h,
                             partial(_cam, st, arch, folder),
                             ready=(folder / "fig3.png").is_file())
    return res


def _probe(st: _StageInputs) -> dict[str, Any] | None:
    from hideseek.classification.config import TrainConfig
    from hideseek.classification.probe import probe_source

    cfg = st.cfg
    if len({r.source for r in st.data.records}) < 2:
        log.info("source probe skipped: one source only")
        return None
    arch = cfg.probe_arch or cfg.architectures[0]
    train = {**cfg.train, "arch": arch, "seed": cfg.seeds[0], "split_seed": cfg.split_seed,
             "fill": cfg.fill, "box_margin": cfg.box_margin}
    return _stamped(st, "probe", st.layout.probe / "probe.json",
                    st.hash_of("probe", arch, [], train=train),
                    lambda: probe_source(st.data, st.masks, st.layout.probe,
                                         TrainConfig(**train), runtime=st.rt, resume=False))


def _external_tests(st: _StageInputs) -> dict[str, Any]:
    """Each data-trained cell on ``external_test`` (no patient may overlap), per source."""
    from hideseek.data.hashing import content_hash

    cfg = st.cfg
    ext = load_dataset(cfg.external_test or "", images=cfg.external_images)
    ext_hash = stage_hash({"images": content_hash(ext.image_path(r) for r in ext.records),
                           "records": [(r.filename, r.label, r.source, r.patient_id)
                                       for r in ext.records]})
    res: dict[str, Any] = {}
    for arch in cfg.architectures:
        for seed in cfg.seeds:
            key = CellKey(arch, "data", seed)
            path = st.layout.external(key)
            h = stage_hash({"stage": "external", "cell": st.cell_hashes.get(key),
                            "external": ext_hash, "n_boot": cfg.n_boot, "code": st.hashes.code})
            res[key.id] = _stamped(st, f"external {key.id}", path, h,
                                   partial(_external, st, key, ext))
    return res


def _external(st: _StageInputs, key: CellKey, ext: CXRDataset) -> dict[str, Any]:
    """One data-trained cell evaluated on the external test set."""
    from hideseek.classification.evaluate import evaluate

    metrics, _ = evaluate(st.layout.cell(key), ext, n_boot=st.cfg.n_boot, runtime=st.rt,
                          external=True)
    return {**metrics, "data": st.cfg.external_test}
