"""``hideseek data import``: our manifest from the native label files of CheXpert and MIMIC-CXR.

* **CheXpert** (Irvin et al. 2019): ``train.csv`` / ``valid.csv`` with ``Path``, ``Sex``,
  ``Age``, ``Frontal/Lateral``, ``AP/PA`` and the 14 findings (1.0 positive, 0.0 negative,
  -1.0 uncertain, blank not mentioned). The patient id is the path's ``patientNNNNN``.
* **MIMIC-CXR-JPG** (Johnson et al. 2019): ``mimic-cxr-2.0.0-chexpert.csv`` (one row per study:
  ``subject_id``, ``study_id``, the 14 findings, same values) joined on the study with
  ``mimic-cxr-2.0.0-metadata.csv`` (one row per image: ``dicom_id``, ``subject_id``,
  ``study_id``, ``ViewPosition``); the image is ``files/pXX/pSUBJECT/sSTUDY/DICOM.jpg`` and
  the patient id the ``subject_id``. Either file may be gzipped (``.csv.gz``).

The manifest keeps one column per finding with the native values, so the task's uncertainty
policy (``ignore`` / ``zeros`` / ``ones``) applies when it is loaded with a multi-label task
(:func:`findings_task`); ``source`` is ``chexpert`` or ``mimic``; extra columns keep the sex,
age, view and study. Frontal views only by default (CheXpert ``Frontal``; MIMIC
``ViewPosition`` PA or AP). Nothing is copied: ``OUT/images`` is a link to the folder the
image paths are relative to.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hideseek.errors import DataError
from hideseek.task import Task, UncertainPolicy

__all__ = [
    "CHEXPERT_FINDINGS",
    "IMPORT_KINDS",
    "ImportResult",
    "findings_task",
    "import_chexpert",
    "import_dataset",
    "import_mimic",
]

log = logging.getLogger(__name__)

#: The 14 CheXpert labels (CheXpert's column order; MIMIC-CXR uses the same names).
CHEXPERT_FINDINGS: tuple[str, ...] = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices")
IMPORT_KINDS = ("chexpert", "mimic")
Views = Literal["frontal", "all"]
_VALUE = re.compile(r"-?[01](\.0*)?")  # a finding's value: 1, 0, -1 (1.0, 0.0, -1.0) or blank
_PATIENT = re.compile(r"patient\d+")
_MIMIC_FRONTAL = ("PA", "AP")
_MIMIC_METADATA = "mimic-cxr-2.0.0-metadata.csv"


def findings_task(uncertain: UncertainPolicy = "ignore") -> Task:
    """The 14-finding multi-label task of an imported manifest."""
    return Task(CHEXPERT_FINDINGS, "multilabel", uncertain=uncertain, name="chexpert-14")


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote.

    Attributes:
        kind: ``chexpert`` or ``mimic``.
        manifest: The manifest written.
        images: ``OUT/images``, a link to the folder the image paths are relative to.
        n: Images written.
        skipped_views: Images left out as not frontal (``views="frontal"``).
        unlabelled: MIMIC images whose study has no labels (left out).
    """

    kind: str
    manifest: Path
    images: Path
    n: int
    skipped_views: int = 0
    unlabelled: int = 0

    def describe(self) -> str:
        """One line for the CLI."""
        skipped = f"; {self.skipped_views} non-frontal left out" if self.skipped_views else ""
        unlabelled = f"; {self.unlabelled} without labels left out" if self.unlabelled else ""
        target = os.readlink(self.images) if self.images.is_symlink() else self.images
        return (f"wrote {self.n} {self.kind} images to {self.manifest} (images: {self.images} "
                f"-> {target}{skipped}{unlabelled})")


def _open_text(path: Path) -> io.TextIOWrapper:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _rows(path: Path, needed: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a native CSV (line, row), after checking its columns."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with _open_text(path) as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            lacking = [c for c in needed if c not in columns]
            if lacking:
                raise DataError(f"{path}: missing column(s) {', '.join(lacking)} (not a "
                                f"{'CheXpert' if 'Path' in needed else 'MIMIC-CXR'} label file?)")
            reader.fieldnames = columns
            for i, row in enumerate(reader):
                yield i + 2, {k: (v or "").strip() for k, v in row.items() if k is not None}
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def _findings(path: Path, line: int, row: dict[str, str]) -> dict[str, str]:
    """The row's 14 native values, checked (1, 0, -1 or blank)."""
    bad = [f"{f}={row[f]!r}" for f in CHEXPERT_FINDINGS if row[f] and not _VALUE.fullmatch(
        row[f])]
    if bad:
        raise DataError(f"{path} line {line}: finding values must be 1, 0, -1 or blank, got "
                        f"{', '.join(bad)}")
    return {f: row[f] for f in CHEXPERT_FINDINGS}


def _link_images(out: Path, root: Path) -> Path:
    """``out/images`` -> ``root`` (a link; an existing one must point there already)."""
    link = out / "images"
    target = root.resolve()
    if link.is_symlink() or link.exists():
        if link.resolve() != target:
            raise DataError(f"{link}: exists and is not a link to {target}; import into a new "
                            "folder")
        return link
    if not target.is_dir():
        log.warning("%s: images folder not found (the manifest is written; link it later)",
                    target)
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError as exc:
        raise DataError(f"{link}: cannot link to {target} ({exc.strerror or exc})") from exc
    return link


def _write(out: Path, kind: str, rows: list[dict[str, str]], extras: Sequence[str],
           images_root: Path, skipped: int, unlabelled: int = 0) -> ImportResult:
    if not rows:
        raise DataError(f"{out}: no {kind} images to write (every row was left out)")
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.csv"
    columns = ["filename", "source", "patient_id", *CHEXPERT_FINDINGS, *extras]
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    images = _link_images(out, images_root)
    labels = ",".join(CHEXPERT_FINDINGS)
    (out / "README.md").write_text(
        f"# {kind} manifest (hideseek data import)\n\n{len(rows)} images; one column per "
        "finding with the native values (1 positive, 0 negative, -1 uncertain, blank not "
        f"mentioned). `images/` links to {images_root.resolve()}.\n\nRead it with the 14-finding "
        f"multi-label task:\n\n    hideseek data check {out} --multilabel --labels "
        f"\"{labels}\"\n\nor, in a protocol config:\n\n    task: {{kind: multilabel, "
        f"uncertain: ignore, classes: [{', '.join(CHEXPERT_FINDINGS)}]}}\n", encoding="utf-8")
    log.info("%s: %d %s images", manifest, len(rows), kind)
    return ImportResult(kind, manifest, images, len(rows), skipped, unlabelled)


def _chexpert_root(csvs: Sequence[Path], first_path: str) -> Path:
    """The folder CheXpert's ``Path`` values are relative to: the parent of the folder that
    holds the CSV when the paths start with that folder's name (``CheXpert-v1.0-small/...``),
    else the CSV's folder."""
    head = first_path.split("/", 1)[0]
    folder = csvs[0].resolve().parent
    return folder.parent if folder.name == head else folder


def import_chexpert(csvs: Sequence[str | Path], out: str | Path, *, views: Views = "frontal",
                    images: str | Path | None = None) -> ImportResult:
    """Write a manifest from CheXpert's ``train.csv`` and / or ``valid.csv``.

    Args:
        csvs: The label files.
        out: The folder of the manifest (``manifest.csv``, ``images`` link, ``README.md``).
        views: ``frontal`` (default) or ``all``.
        images: The folder the ``Path`` values are relative to (default: see the module doc).

    Returns:
        What was written. Extra columns: ``sex``, ``age``, ``view`` (AP / PA, or ``Lateral``),
        ``study`` and ``chexpert_file`` (``train`` / ``valid``).

    Raises:
        DataError: A file is missing or malformed (one line naming the file).
    """
    paths = [Path(c) for c in csvs]
    needed = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_FINDINGS]
    rows: list[dict[str, str]] = []
    skipped, first = 0, ""
    for path in paths:
        for line, row in _rows(path, needed):
            name = row["Path"].replace("\\", "/")
            patient = _PATIENT.search(name)
            if not name or patient is None:
                raise DataError(f"{path} line {line}: no patientNNNNN in the path {name!r}")
            frontal = row["Frontal/Lateral"].lower() == "frontal"
            if views == "frontal" and not frontal:
                skipped += 1
                continue
            study = re.search(r"study\d+", name)
            first = first or name
            rows.append({"filename": name, "source": "chexpert",
                         "patient_id": patient.group(0), **_findings(path, line, row),
                         "sex": row["Sex"], "age": row["Age"],
                         "view": row["AP/PA"] if frontal else "Lateral",
                         "study": study.group(0) if study else "",
                         "chexpert_file": path.name.split(".")[0]})
    root = Path(images) if images is not None else _chexpert_root(paths, first)
    return _write(Path(out), "chexpert", rows, ("sex", "age", "view", "study", "chexpert_file"),
                  root, skipped)


def _metadata_default(labels: Path) -> Path:
    for name in (_MIMIC_METADATA, _MIMIC_METADATA + ".gz"):
        if (labels.parent / name).is_file():
            return labels.parent / name
    raise DataError(f"{labels}: no {_MIMIC_METADATA}(.gz) beside it; pass --metadata FILE")


def import_mimic(labels: str | Path, out: str | Path, *, metadata: str | Path | None = None,
                 views: Views = "frontal", images: str | Path | None = None) -> ImportResult:
    """Write a manifest from MIMIC-CXR-JPG's ``mimic-cxr-2.0.0-chexpert.csv`` and metadata.

    Args:
        labels: ``mimic-cxr-2.0.0-chexpert.csv`` (one row per study).
        out: The folder of the manifest.
        metadata: ``mimic-cxr-2.0.0-metadata.csv`` (default: beside ``labels``).
        views: ``frontal`` (``ViewPosition`` PA or AP; default) or ``all``.
        images: The folder holding ``files/`` (default: the folder of ``labels``).

    Returns:
        What was written; every image of a labelled study gets the study's labels. Extra
        columns: ``view`` (``ViewPosition``), ``study_id``, ``dicom_id``.

    Raises:
        DataError: A file is missing or malformed (one line naming the file).
    """
    labels = Path(labels)
    meta = Path(metadata) if metadata is not None else _metadata_default(labels)
    by_study: dict[tuple[str, str], dict[str, str]] = {}
    for line, row in _rows(labels, ["subject_id", "study_id", *CHEXPERT_FINDINGS]):
        key = (row["subject_id"], row["study_id"])
        if not key[0].isdigit() or not key[1].isdigit():
            raise DataError(f"{labels} line {line}: subject_id and study_id must be numbers, "
                            f"got {key[0]!r}, {key[1]!r}")
        by_study[key] = _findings(labels, line, row)
    rows: list[dict[str, str]] = []
    skipped = unlabelled = 0
    for line, row in _rows(meta, ["dicom_id", "subject_id", "study_id", "ViewPosition"]):
        subject, study, dicom = row["subject_id"], row["study_id"], row["dicom_id"]
        if not subject.isdigit() or not study.isdigit() or not dicom:
            raise DataError(f"{meta} line {line}: expected numeric subject_id / study_id and a "
                            f"dicom_id, got {subject!r}, {study!r}, {dicom!r}")
        if views == "frontal" and row["ViewPosition"] not in _MIMIC_FRONTAL:
            skipped += 1
            continue
        found = by_study.get((subject, study))
        if found is None:
            unlabelled += 1
            continue
        rows.append({"filename": f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg",
                     "source": "mimic", "patient_id": subject, **found,
                     "view": row["ViewPosition"], "study_id": study, "dicom_id": dicom})
    if unlabelled:
        log.warning("%s: %d image(s) of studies without labels in %s left out", meta,
                    unlabelled, labels)
    root = Path(images) if images is not None else labels.resolve().parent
    return _write(Path(out), "mimic", rows, ("view", "study_id", "dicom_id"), root, skipped,
                  unlabelled)


def import_dataset(kind: str, csvs: Sequence[str | Path], out: str | Path, *,
                   views: Views = "frontal", images: str | Path | None = None,
                   metadata: str | Path | None = None) -> ImportResult:
    """:func:`import_chexpert` or :func:`import_mimic` by name (the CLI's entry point).

    Raises:
        DataError: An unknown kind, a wrong number of files, or a malformed file.
    """
    if kind == "chexpert":
        if metadata is not None:
            raise DataError("--metadata is for mimic only")
        return import_chexpert(csvs, out, views=views, images=images)
    if kind == "mimic":
        if len(csvs) != 1:
            raise DataError(f"mimic: one label file (mimic-cxr-2.0.0-chexpert.csv), got "
                            f"{len(csvs)}")
        return import_mimic(csvs[0], out, metadata=metadata, views=views, images=images)
    raise DataError(f"unknown import kind {kind!r}; choose from {', '.join(IMPORT_KINDS)}")
