"""``hideseek represent``: write all five versions of a dataset to disk, encoded identically."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hideseek.data.io import read_image, read_mask, write_png
from hideseek.data.manifest import CXRDataset, Record, write_manifest
from hideseek.data.masks import mask_name
from hideseek.jsonio import dumps, write_json
from hideseek.progress import progress
from hideseek.representations.masks import (
    MaskInfo,
    apply_policy,
    assess_masks,
    mask_qc_table,
)
from hideseek.representations.registry import check_representations, get_fill
from hideseek.representations.transforms import REPRESENTATIONS, apply_representation

__all__ = ["RepresentOptions", "output_name", "write_representations"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepresentOptions:
    """How the versions are made and written.

    Attributes:
        fill: A registered fill: ``zero`` (the paper), ``mean``, ``blur``, ``linear``...
        box_margin: Pixels added around each lung box (at the image's own resolution).
        on_bad_mask: ``exclude``, ``keep-original``, ``error`` or ``exclude-flagged``
            (:data:`~hideseek.representations.masks.BAD_MASK_POLICIES`).
        bits: PNG bit depth of all five versions (8 or 16).
        workers: Processes.
        representations: Which registered versions to write (default the paper's five).
    """

    fill: str = "zero"
    box_margin: int = 0
    on_bad_mask: str = "exclude"
    bits: int = 8
    workers: int = 2
    representations: tuple[str, ...] = REPRESENTATIONS


def output_name(filename: str) -> str:
    """Every version is a PNG: ``x.jpg`` -> ``x.png`` (``x.png`` unchanged), named like its
    mask (:func:`~hideseek.data.masks.mask_name`)."""
    return mask_name(filename)


def _targets(data: CXRDataset, out: Path, rep: str, r: Record) -> Path:
    if data.form == "covidx":
        return out / rep / (r.split or "train") / Path(output_name(r.filename)).name
    return out / rep / "images" / output_name(r.filename)


def _work(job: tuple[Path, Path | None, dict[str, Path], bool, RepresentOptions]) -> str:
    image_path, mask_path, targets, original_only, opt = job
    if all(t.exists() for t in targets.values()):
        return "skipped"
    image = read_image(image_path)
    mask = None if original_only or mask_path is None else read_mask(mask_path, image.shape)
    for rep, target in targets.items():
        out = image if mask is None else apply_representation(rep, image, mask, opt.fill,
                                                              opt.box_margin)
        write_png(target, out, bits=opt.bits)
    return "written"


def _write_index(data: CXRDataset, out: Path, rep: str, records: list[Record],
                 infos: dict[str, MaskInfo], originals: set[str]) -> None:
    extra = {r.filename: {"original_filename": r.filename,
                          "mask_area_fraction": f"{infos[r.filename].area_fraction:.5f}",
                          "mask_problem": infos[r.filename].problem,
                          "representation": rep if r.filename not in originals else "data"}
             for r in records}
    if data.form == "covidx":
        names = data.split_files or [Path("train.txt"), Path("test.txt")]
        for split_file in names:
            split = "test" if "test" in split_file.stem.lower() else (
                "val" if "val" in split_file.stem.lower() else "train")
            lines = [f"{r.patient_id} {Path(output_name(r.filename)).name} {r.label} {r.source}"
                     for r in records if (r.split or "train") == split]
            (out / rep / split_file.name).write_text("\n".join(lines) + ("\n" if lines else ""))
    out_records = [replace(r, filename=(f"{r.split or 'train'}/{Path(output_name(r.filename)).name}"
                                        if data.form == "covidx" else output_name(r.filename)),
                           extra={**r.extra, **extra[r.filename]}) for r in records]
    write_manifest(out / rep / "manifest.csv", out_records)


def _image_keys(jobs: list[tuple[Path, Path | None, dict[str, Path], bool, RepresentOptions]],
                names: list[str], opt: RepresentOptions) -> dict[str, str]:
    """Per image: a hash of its bytes, its mask's bytes, the options and the code."""
    from hideseek.data.hashing import code_fingerprint, file_hashes

    images = file_hashes([j[0] for j in jobs])
    with_mask = [j[1] for j in jobs if j[1] is not None and not j[3]]
    masks = iter(file_hashes(with_mask))
    common = json.dumps({"fill": opt.fill, "box_margin": opt.box_margin, "bits": opt.bits,
                         "code": code_fingerprint()}, sort_keys=True)
    keys = {}
    for name, job, digest in zip(names, jobs, images, strict=True):
        mask = next(masks) if job[1] is not None and not job[3] else "original"
        keys[name] = hashlib.sha256(f"{common}|{digest}|{mask}".encode()).hexdigest()[:16]
    return keys


def _drop_stale(out: Path, jobs: list[tuple[Path, Path | None, dict[str, Path], bool,
                                            RepresentOptions]],
                keys: dict[str, str], names: list[str]) -> int:
    """Delete the outputs made from other inputs or options; record the keys; count them."""
    index = out / "represent.keys.json"
    try:
        old = json.loads(index.read_text()) if index.is_file() else {}
    except (OSError, json.JSONDecodeError):
        old = {}
    stale = 0
    for name, job in zip(names, jobs, strict=True):
        if old.get(name) != keys[name]:
            present = [t for t in job[2].values() if t.exists()]
            stale += bool(present)
            for target in present:
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    index.write_text(dumps(keys, indent=None))
    return stale


def _run_jobs(jobs: list[Any], workers: int) -> list[str]:
    """Each job's status (``written`` / ``skipped``), in parallel processes when it pays."""
    if workers > 1 and len(jobs) > 8:
        with ProcessPoolExecutor(workers) as pool:
            return list(progress(pool.map(_work, jobs, chunksize=8), desc="represent",
                                 total=len(jobs)))
    return [_work(j) for j in progress(jobs, desc="represent", total=len(jobs))]


def write_representations(data: CXRDataset, masks_dir: Path, out: str | Path,
                          options: RepresentOptions | None = None) -> dict[str, Any]:
    """Write ``out/<representation>/`` for every representation, plus ``out/mask_qc.csv``.

    Each version is a complete dataset in the input's form: ``manifest.csv`` + ``images/`` for a
    pack; ``train/``, ``test/`` and the split files for COVIDx (a ``manifest.csv`` is written
    too). All versions, ``data`` included, are written as lossless PNG of the same bit depth, so
    no version differs from another by its encoding. An image already written from the same
    image and mask bytes, options and code is skipped; one made from anything else is redone
    (``represent.keys.json`` records each image's key; ``represent.json`` carries a ``hash``).

    Returns:
        A summary: counts of images written, skipped (reused), redone, excluded, kept original;
        the QC table; the ``hash`` of every image's inputs.
    """
    opt = options or RepresentOptions()
    check_representations(opt.representations)
    get_fill(opt.fill)
    out = Path(out)
    infos = assess_masks(data, masks_dir)
    by_name = {i.filename: i for i in infos}
    records, originals = apply_policy(list(data.records), infos, opt.on_bad_mask)
    kept = {r.filename for r in records}
    excluded = [i.filename for i in infos if i.filename not in kept]
    jobs = []
    for r in records:
        targets = {rep: _targets(data, out, rep, r) for rep in opt.representations}
        jobs.append((data.image_path(r), by_name[r.filename].path, targets,
                     r.filename in originals or by_name[r.filename].bad, opt))
    names = [r.filename for r in records]
    keys = _image_keys(jobs, names, opt)
    redone = _drop_stale(out, jobs, keys, names)
    if redone:
        log.info("represent: %d image(s) redone (image, mask, options or code changed)", redone)
    for rep in opt.representations:
        (out / rep).mkdir(parents=True, exist_ok=True)
    status = _run_jobs(jobs, opt.workers)
    for rep in opt.representations:
        _write_index(data, out, rep, records, by_name, originals)
    qc = mask_qc_table(infos)
    with (out / "mask_qc.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(qc[0]))
        w.writeheader()
        w.writerows(qc)
    summary = {
        "images": len(data.records), "written": status.count("written"),
        "skipped": status.count("skipped"), "redone": redone, "excluded": len(excluded),
        "kept_original": len(originals), "excluded_files": excluded,
        "bad_masks": {i.filename: i.problem for i in infos if i.bad},
        "options": {**opt.__dict__, "representations": list(opt.representations)},
        "mask_qc": qc,
        "hash": hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16],
    }
    write_json(out / "represent.json", summary, default=str)
    if excluded:
        log.warning("%d image(s) excluded from all versions for a bad or flagged mask (see "
                    "represent.json)",
                    len(excluded))
    return summary
