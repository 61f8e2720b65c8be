"""Datasets named by one path: a pack folder (manifest + images), COVIDx split files, an
ImageFolder tree (one subfolder per label) or a bare folder of images (no labels).

Loading validates everything up front and reports every problem at once; nothing is dropped
silently. Given a ``problems`` list, the loader collects the problems there instead of raising
(``hideseek data check`` reports every kind in one run).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from hideseek.data.masks import find_mask
from hideseek.errors import DataError, cut_list
from hideseek.task import FINDING_SEPARATOR, Task, infer_task, parse_task, split_findings

__all__ = [
    "IMAGE_SUFFIXES",
    "SPLITS",
    "CXRDataset",
    "Collection",
    "Problem",
    "Record",
    "combine_datasets",
    "load_dataset",
    "read_splits",
    "resolve_labels",
    "retask",
    "safe_relative_name",
    "write_manifest",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                  "validation": "val", "test": "test", "testing": "test"}
_CORE = ("filename", "label", "source", "patient_id", "split")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom",
                            ".dic"})


@dataclass(frozen=True)
class Record:
    """One image of a dataset.

    Attributes:
        filename: Path relative to the images folder (POSIX separators).
        label: The task's class (multi-label: the positive findings, ``A|B``, empty for no
            finding), or None for an unlabelled image.
        source: Data source (``unknown`` when the dataset does not say).
        patient_id: Patient identifier (the file name when the dataset has none).
        split: ``train``, ``val``, ``test`` or None (not assigned yet).
        extra: Other manifest columns, kept and written back.
        collection: The dataset it came from when several are read together
            (:func:`combine_datasets`); empty for a single dataset.
        uncertain: Multi-label: findings whose label is uncertain for this image (left out of
            that finding's loss and metrics; the task's ``uncertain`` policy).
    """

    filename: str
    label: str | None
    source: str = "unknown"
    patient_id: str = ""
    split: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    collection: str = ""
    uncertain: tuple[str, ...] = ()

    @property
    def findings(self) -> list[str]:
        """Multi-label: the positive findings (the ``|``-separated ``label``)."""
        return split_findings(self.label or "")

    @property
    def key(self) -> str:
        """A name unique across collections: ``collection/filename`` (the file name alone for
        a single dataset)."""
        return f"{self.collection}/{self.filename}" if self.collection else self.filename

    @property
    def image_is_patient(self) -> bool:
        """No patient id of its own: the image counts as its own patient (intervals over such
        images resample images, not patients)."""
        return self.patient_id in ("", self.filename, self.key)


@dataclass(frozen=True)
class Collection:
    """Where the files of one dataset live, when several are read together.

    Attributes:
        root: The dataset's folder.
        images_dir: Folder its record file names are relative to.
        masks_dir: Its lung masks, when it has them.
    """

    root: Path
    images_dir: Path
    masks_dir: Path | None


@dataclass
class CXRDataset:
    """A validated list of records and where their files live.

    Attributes:
        root: Folder (or split file) the dataset was loaded from.
        images_dir: Folder the record file names are relative to.
        records: The images.
        masks_dir: Lung masks (same file names), when the dataset has them.
        form: ``pack``, ``covidx``, ``imagefolder``, ``folder`` (bare images, no labels) or
            ``combined`` (several datasets: :func:`combine_datasets`).
        split_files: The COVIDx split files it was read from (``covidx`` form).
        missing_patient_ids: Records without a patient id (each counts as its own patient).
        collections: The datasets of a ``combined`` one, by :attr:`Record.collection`.
        task: The task the labels were read as (None: no labels).
    """

    root: Path
    images_dir: Path
    records: list[Record]
    masks_dir: Path | None = None
    form: str = "pack"
    split_files: list[Path] = field(default_factory=list)
    missing_patient_ids: int = 0
    collections: dict[str, Collection] = field(default_factory=dict)
    task: Task | None = None

    def __len__(self) -> int:
        return len(self.records)

    def image_path(self, record: Record) -> Path:
        """The image file of ``record``."""
        if record.collection:
            return self.collections[record.collection].images_dir / record.filename
        return self.images_dir / record.filename

    def masks_folder(self, record: Record) -> Path | None:
        """The folder of true lung masks that ``record``'s mask would be in."""
        if record.collection:
            return self.collections[record.collection].masks_dir
        return self.masks_dir

    def mask_path(self, record: Record) -> Path | None:
        """The true lung mask of ``record`` (:func:`~hideseek.data.masks.find_mask`), or None."""
        folder = self.masks_folder(record)
        return None if folder is None else find_mask(folder, record.filename)

    @property
    def has_masks(self) -> bool:
        """True when the dataset (every collection of a combined one) has a masks folder."""
        if self.collections:
            return all(c.masks_dir is not None for c in self.collections.values())
        return self.masks_dir is not None

    def subset(self, split: str) -> CXRDataset:
        """The records of one split."""
        return replace(self, records=[r for r in self.records if r.split == split])

    def with_records(self, records: list[Record]) -> CXRDataset:
        """The same dataset with other records."""
        return replace(self, records=records)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        kind: ``name``, ``duplicate``, ``label``, ``split``, ``malformed``, ``missing file``,
            ``empty`` (or, from the data check, ``unreadable``, ``patient id``, ``overlap``).
        message: The file or line and what is wrong with it.
    """

    kind: str
    message: str


def _flush(problems: list[Problem], start: int, title: str, strict: bool) -> None:
    """Raise the problems found since ``start`` as one DataError when loading strictly."""
    if strict and len(problems) > start:
        raise DataError(_problem_list(title, [p.message for p in problems[start:]]))


def safe_relative_name(name: str) -> str | None:
    """Return the name as a clean relative POSIX path, or None when absolute or using ``..``."""
    name = name.strip().replace("\\", "/")
    if not name:
        return None
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":"):
        return None
    return str(p)


def _problem_list(title: str, items: Sequence[str]) -> str:
    return f"{title} ({len(items)}):\n  " + "\n  ".join(cut_list(items))


def _normalise_split(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    return _SPLIT_ALIASES.get(raw.strip().lower(), "?" + raw)


def _row_record(line: int, row: dict[str, str], origin: str, require_label: bool,
                problems: list[Problem], findings: _Findings | None = None) -> Record | None:
    """The record of one row with its label as written (resolved later), or None after adding
    its problem. ``findings``: the row is multi-label (see :class:`_Findings`)."""
    raw_name = row.get("filename") or ""
    name = safe_relative_name(raw_name)
    if name is None:
        problems.append(Problem("name", f"{origin} line {line}: file name {raw_name!r} is empty, "
                                "absolute or contains '..'"))
        return None
    uncertain: tuple[str, ...] = ()
    label: str | None
    if findings is not None:
        label, uncertain = findings.read(row)
    else:
        label = (row.get("label") or "").strip() or None
    if label is None and require_label:
        problems.append(Problem("label", f"{origin} line {line}: missing label for {name}"))
        return None
    split = _normalise_split(row.get("split"))
    if split is not None and split.startswith("?"):
        problems.append(Problem("split", f"{origin} line {line}: unknown split {split[1:]!r} for "
                                f"{name} (expected train, val or test)"))
        return None
    skip = {*_CORE, *(findings.columns if findings else ())}
    return Record(
        filename=name,
        label=label,
        source=(row.get("source") or "").strip() or "unknown",
        patient_id=(row.get("patient_id") or "").strip(),
        split=split,
        extra={k: v for k, v in row.items() if k not in skip and k is not None},
        uncertain=uncertain,
    )


@dataclass(frozen=True)
class _Findings:
    """How the findings of a multi-label manifest row are read.

    Attributes:
        columns: The columns that hold the findings: ``labels`` (``A|B``, empty = no finding;
            optional ``uncertain`` beside it) or one column per finding with CheXpert's values
            (1 positive, 0 or blank negative, -1 uncertain).
        per_column: True for one column per finding.
        policy: What an uncertain finding becomes (``ignore``: listed as uncertain).
    """

    columns: tuple[str, ...]
    per_column: bool = False
    policy: str = "ignore"

    def read(self, row: dict[str, str]) -> tuple[str, tuple[str, ...]]:
        """The row's findings (``A|B``) and its uncertain findings."""
        if not self.per_column:
            positive = split_findings(row.get(self.columns[0]) or "")
            unsure = split_findings(row.get("uncertain") or "")
        else:
            positive, unsure = [], []
            for c in self.columns:
                value = (row.get(c) or "").strip()
                number = float(value) if _NUMBER.fullmatch(value) else 0.0
                if number > 0:
                    positive.append(c)
                elif number < 0:
                    unsure.append(c)
        if self.policy == "ones":
            positive, unsure = positive + unsure, []
        elif self.policy == "zeros":
            unsure = []
        return FINDING_SEPARATOR.join(positive), tuple(unsure)


_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")


def _findings_reader(columns: Sequence[str], task: Task | None, origin: object
                     ) -> _Findings | None:
    """How a manifest with these columns carries multi-label findings (None: one label)."""
    if "labels" in columns:
        return _Findings(("labels",), policy=task.uncertain if task else "ignore")
    if task is None or not task.multilabel:
        return None
    own = [c for c in task.classes if c in columns]
    if own and len(own) < len(task.classes):
        lacking = [c for c in task.classes if c not in columns]
        raise DataError(f"{origin}: no column for finding(s) {', '.join(lacking)} (one column "
                        "per finding, or a 'labels' column of A|B findings)")
    if own:
        return _Findings(tuple(own), per_column=True, policy=task.uncertain)
    if "label" in columns:
        return _Findings(("label",), policy=task.uncertain)
    raise DataError(f"{origin}: a multi-label task needs a 'labels' column (A|B findings) or "
                    "one column per finding")


def _build_records(rows: Iterable[tuple[int, dict[str, str]]], origin: str,
                   require_label: bool, problems: list[Problem],
                   findings: _Findings | None = None,
                   seen: dict[str, int] | None = None) -> list[Record]:
    """Valid records of ``rows``; a missing patient id stays empty (see :func:`_fill_patients`).

    ``seen`` collects each record's line (file name -> line) for later messages.
    """
    records: list[Record] = []
    seen = {} if seen is None else seen
    for line, row in rows:
        record = _row_record(line, row, origin, require_label, problems, findings)
        if record is None:
            continue
        if record.filename in seen:
            problems.append(Problem("duplicate", f"{origin} line {line}: duplicate file name "
                                    f"{record.filename!r} (first on line {seen[record.filename]})"))
            continue
        seen[record.filename] = line
        records.append(record)
    return records


def resolve_labels(records: list[Record], task: Task | None, origin: object,
                   problems: list[Problem], *, require_label: bool = True,
                   keep_unknown: bool | None = None, multilabel: bool = False,
                   lines: Mapping[str, int] | None = None) -> tuple[list[Record], Task | None]:
    """Map every record's label as written onto the task's classes.

    Args:
        records: Records with their labels as written (multi-label: ``A|B``).
        task: The declared task; None reads it from the labels (:func:`~hideseek.task.\
infer_task`).
        origin: Named in the problems (a manifest path).
        problems: Unknown labels are appended here (and their records left out).
        require_label: False for commands that need no label: the task is not needed.
        keep_unknown: A label the task does not know is kept as it is written, never a problem
            (default: when ``require_label`` is False).
        multilabel: The labels are ``|``-separated findings.
        lines: The line of each file name, for the messages.

    Returns:
        The records with class names as labels, and the task (None when nothing is labelled).
    """
    multilabel = multilabel or (task is not None and task.multilabel)
    keep = not require_label if keep_unknown is None else keep_unknown
    written = [r.label for r in records if r.label is not None]
    if not written and not multilabel:
        return records, task
    if task is None:
        raws = [f for lab in written for f in split_findings(lab)] if multilabel else written
        try:
            task, mapping = infer_task(raws, multilabel=multilabel, origin=origin,
                                       quiet=not require_label)
        except ValueError as exc:
            if require_label:
                raise DataError(str(exc)) from None
            return records, None
        lookup = lambda raw: mapping.get(raw)  # noqa: E731
    else:
        lookup = task.normalise
    out: list[Record] = []
    for r in records:
        if r.label is None:
            out.append(r)
            continue
        mapped = _map_label(r, lookup, task, multilabel)
        if isinstance(mapped, Record):
            out.append(mapped)
        elif keep:
            out.append(r)  # kept as written: nothing here needs the label
        else:
            where = f"{origin} line {lines[r.filename]}" if lines and r.filename in lines \
                else str(origin)
            problems.append(Problem("label", f"{where}: unknown label(s) "
                                    f"{', '.join(repr(b) for b in mapped)} for {r.filename} (the "
                                    f"task's {task.words}: {', '.join(task.classes)})"))
    return out, task


def _map_label(r: Record, lookup: Callable[[str], str | None], task: Task,
               multilabel: bool) -> Record | list[str]:
    """The record with its label(s) as the task's class names, or the labels it does not know."""
    if not multilabel:
        name = lookup(r.label or "")
        return replace(r, label=name) if name else [r.label or ""]
    written = split_findings(r.label or "")
    names = [lookup(f) for f in written]
    unsure = [lookup(f) for f in r.uncertain]
    bad = [f for f, n in zip(written + list(r.uncertain), names + unsure, strict=True)
           if n is None]
    if bad:
        return bad
    known = {n for n in names if n}
    return replace(r, label=FINDING_SEPARATOR.join(c for c in task.classes if c in known),
                   uncertain=tuple(c for c in task.classes if c in set(unsure) and c not in known))


def _fill_patients(records: list[Record], origin: object) -> tuple[list[Record], int]:
    """Use the file name as patient id where none is given; warn with the count."""
    missing = sum(1 for r in records if not r.patient_id)
    if missing:
        log.warning("%s: %d of %d images have no patient_id; each counts as its own patient, so "
                    "splits cannot keep a patient's images together", origin, missing,
                    len(records))
        records = [r if r.patient_id else replace(r, patient_id=r.filename) for r in records]
    return records, missing


def _check_files(records: Sequence[Record], folder: Path, what: str,
                 problems: list[Problem], strict: bool) -> list[Record]:
    """The records whose file exists; the others are problems."""
    missing = [r.filename for r in records if not (folder / r.filename).is_file()]
    if strict and missing:
        raise DataError(_problem_list(f"{what} missing under {folder}", missing))
    problems += [Problem("missing file", f"{folder / name}: file not found") for name in missing]
    gone = set(missing)
    return [r for r in records if r.filename not in gone]


@dataclass(frozen=True)
class _How:
    """How strictly a dataset is read.

    Attributes:
        require_label: Every image needs a label.
        keep_unknown: A label the declared task does not know is kept as written.
        strict: Raise on the first kind of problem (else collect them).
    """

    require_label: bool = True
    keep_unknown: bool = False
    strict: bool = True


def _read_manifest(manifest: Path, require_label: bool, task: Task | None
                   ) -> tuple[list[tuple[int, dict[str, str]]], _Findings | None]:
    """The rows of a manifest and how its findings are read (None: one label per image)."""
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        findings = _findings_reader(columns, task, manifest)
        needed = ["filename"] + (["label"] if require_label and findings is None else [])
        lacking = [c for c in needed if c not in columns]
        if lacking:
            raise DataError(f"{manifest}: missing column(s) {', '.join(lacking)} "
                            f"(has: {', '.join(columns) or 'none'})")
        reader.fieldnames = columns
        rows = [(i + 2, {k: (v or "") for k, v in row.items()}) for i, row in enumerate(reader)]
    return rows, findings


def _load_pack(root: Path, how: _How, problems: list[Problem], task: Task | None
               ) -> CXRDataset:
    manifest, strict = root / "manifest.csv", how.strict
    rows, findings = _read_manifest(manifest, how.require_label, task)
    lines: dict[str, int] = {}
    records = _build_records(rows, str(manifest), how.require_label, problems, findings, lines)
    records, task = resolve_labels(records, task, manifest, problems,
                                   require_label=how.require_label, keep_unknown=how.keep_unknown,
                                   multilabel=findings is not None, lines=lines)
    _flush(problems, 0, f"{manifest}: invalid rows", strict)
    _require_some(records, str(manifest), problems, strict)
    images = root / "images"
    if not images.is_dir():
        raise DataError(f"{root}: no images/ folder beside manifest.csv")
    records = _check_files(records, images, "image files", problems, strict)
    records, missing = _fill_patients(records, manifest)
    masks = root / "masks"
    return CXRDataset(root=root, images_dir=images, records=records,
                      masks_dir=masks if masks.is_dir() else None, form="pack",
                      missing_patient_ids=missing, task=task)


def _require_some(records: Sequence[Record], origin: str, problems: list[Problem],
                  strict: bool) -> None:
    if not records:
        if strict:
            raise DataError(f"{origin}: no images listed")
        problems.append(Problem("empty", f"{origin}: no valid images listed"))


def _image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted, hidden files and folders skipped)."""
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _load_folder(root: Path, how: _How, problems: list[Problem], task: Task | None
                 ) -> CXRDataset:
    """An ImageFolder tree (``root/<label>/*``, any label names) or, where no label is needed,
    a bare folder of images (recursive; a first-level subfolder's name is kept as the label)."""
    files, require_label, strict = _image_files(root), how.require_label, how.strict
    if not files:
        raise DataError(f"{root}: no manifest.csv and no image files "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    names = [p.relative_to(root).as_posix() for p in files]
    records = [Record(filename=n, label=n.split("/")[0] if "/" in n else None) for n in names]
    labelled = any(r.label is not None for r in records)
    if require_label and not labelled:
        raise DataError(f"{root}: no manifest.csv and no label subfolders (a dataset folder "
                        "holds manifest.csv and images/, or one subfolder of images per label, "
                        "or pass a COVIDx split file with --images DIR)")
    if require_label:
        loose = [r.filename for r in records if r.label is None]
        if loose:
            problems += [Problem("label", f"{root / n}: image outside the label subfolders")
                         for n in loose]
            if strict:
                raise DataError(_problem_list(f"{root}: images outside the label subfolders",
                                              loose))
            records = [r for r in records if r.label is not None]
    records, task = resolve_labels(records, task, root, problems, require_label=require_label,
                                   keep_unknown=how.keep_unknown)
    _flush(problems, 0, f"{root}: invalid label folders", strict)
    records, missing = _fill_patients(records, root)
    return CXRDataset(root=root, images_dir=root, records=records,
                      form="imagefolder" if labelled else "folder",
                      missing_patient_ids=missing, task=task)


def _covidx_split_name(path: Path) -> str | None:
    stem = path.stem.lower()
    for key in ("train", "val", "test"):
        if key in stem:
            return key
    return None


def _covidx_rows(split_file: Path, problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    split = _covidx_split_name(split_file)
    rows: list[tuple[int, dict[str, str]]] = []
    for i, line in enumerate(split_file.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            problems.append(Problem("malformed", f"{split_file} line {i}: expected 'patient_id "
                                    f"filename label [source]', got {line!r}"))
            continue
        rows.append((i, {"patient_id": parts[0], "filename": parts[1], "label": parts[2],
                         "source": parts[3] if len(parts) > 3 else "", "split": split or ""}))
    return rows


def _load_covidx(split_files: Sequence[Path], images: Path, problems: list[Problem],
                 how: _How, task: Task | None) -> CXRDataset:
    all_records: list[Record] = []
    strict, lines = how.strict, dict[str, int]()
    for split_file in split_files:
        if not split_file.is_file():
            raise DataError(f"{split_file}: split file not found")
        start = len(problems)
        rows = _covidx_rows(split_file, problems)
        _flush(problems, start, f"{split_file}: malformed lines", strict)
        all_records += _build_records(rows, str(split_file), True, problems, seen=lines)
        _flush(problems, start, f"{split_file}: invalid rows", strict)
        _require_some(all_records, str(split_file), problems, strict)
    start = len(problems)
    all_records, task = resolve_labels(all_records, task, split_files[0], problems,
                                       keep_unknown=how.keep_unknown, lines=lines)
    _flush(problems, start, f"{split_files[0]}: invalid labels", strict)
    # COVIDx keeps train/ and test/ subfolders; accept both that and a flat folder.
    resolved = []
    for r in all_records:
        if r.split and (images / r.split / r.filename).is_file():
            r = replace(r, filename=f"{r.split}/{r.filename}")
        resolved.append(r)
    counts = Counter(r.filename for r in resolved)
    dup = sorted(name for name, n in counts.items() if n > 1)
    if dup and strict:
        raise DataError(_problem_list("duplicate file names across split files", dup))
    problems += [Problem("duplicate", f"{name}: listed in several split files") for name in dup]
    resolved = _check_files(resolved, images, "image files", problems, strict)
    resolved, missing = _fill_patients(resolved, split_files[0])
    return CXRDataset(root=split_files[0], images_dir=images, records=resolved, form="covidx",
                      split_files=list(split_files), missing_patient_ids=missing, task=task)


def load_dataset(data: str | Path | Sequence[str | Path], images: str | Path | None = None,
                 require_label: bool = True, *, task: Task | str | None = None,
                 problems: list[Problem] | None = None,
                 keep_unknown_labels: bool | None = None) -> CXRDataset:
    """Load and validate a dataset.

    Args:
        data: A pack folder (``manifest.csv``, ``images/``, optional ``masks/``), an ImageFolder
            tree (``DATA/<label>/*.png``, no manifest), a bare folder of images (only with
            ``require_label=False``), one or more COVIDx split files (``patient_id filename
            label [source]`` per line), or several folders read together
            (:func:`combine_datasets`). A pack is multi-label when its manifest has a ``labels``
            column (``A|B`` findings) or the task is multi-label (then also one column per
            finding with CheXpert's values: 1, 0, -1 uncertain, blank).
        images: The images folder, required with COVIDx split files.
        require_label: False for commands that need no labels (segmentation): a missing label
            is no problem and an unknown one is kept as written.
        task: The declared task (a :class:`~hideseek.task.Task`, a preset name or
            comma-separated classes); None reads it from the labels
            (:func:`~hideseek.task.infer_task`). Labels are mapped onto its classes; one it
            does not know is a problem.
        problems: When given, invalid rows, duplicates and missing files are appended here and
            left out of the dataset instead of raising (the data check lists them all).
        keep_unknown_labels: Keep a label the declared task does not know as written instead of
            reporting it (default: when ``require_label`` is False).

    Raises:
        DataError: Listing every invalid row or missing file (without ``problems``), or when
            the dataset cannot be found or has no usable structure.
    """
    try:
        declared = parse_task(task)
    except ValueError as exc:
        raise DataError(f"task: {exc}") from None
    strict = problems is None
    keep = not require_label if keep_unknown_labels is None else keep_unknown_labels
    sink: list[Problem] = [] if problems is None else problems
    paths = [Path(p) for p in ([data] if isinstance(data, (str, Path)) else data)]
    if len(paths) > 1 and all(p.is_dir() for p in paths):
        if images is not None:
            raise DataError(f"{paths[0]}: --images is only for COVIDx split files")
        return combine_datasets([load_dataset(p, require_label=require_label, problems=problems,
                                              task=declared, keep_unknown_labels=keep)
                                 for p in paths])
    how = _How(require_label, keep, strict)
    if len(paths) == 1 and paths[0].is_dir():
        if images is not None:
            raise DataError(f"{paths[0]}: --images is only for COVIDx split files")
        if (paths[0] / "manifest.csv").is_file():
            return _load_pack(paths[0], how, sink, declared)
        return _load_folder(paths[0], how, sink, declared)
    if not all(p.exists() for p in paths):
        missing = [str(p) for p in paths if not p.exists()]
        raise DataError(f"dataset not found: {', '.join(missing)}")
    if images is None:
        raise DataError(f"{paths[0]}: a COVIDx split file needs --images DIR")
    images = Path(images)
    if not images.is_dir():
        raise DataError(f"{images}: images folder not found")
    return _load_covidx(paths, images, sink, how, declared)


def combine_datasets(datasets: Sequence[CXRDataset]) -> CXRDataset:
    """Several datasets read as one (e.g. lung-mask collections trained together).

    Each record keeps its own file name and gets the name of its dataset's folder as
    :attr:`Record.collection` (made unique with ``-2``, ``-3``, ... when two folders share a
    name) and as the prefix of its patient id (``collection/id``: ids of different datasets
    never name one patient); :meth:`CXRDataset.image_path` and :meth:`CXRDataset.mask_path`
    look in that dataset's folders. One dataset is returned as it is.
    """
    if len(datasets) == 1:
        return datasets[0]
    collections: dict[str, Collection] = {}
    records: list[Record] = []
    for d in datasets:
        if d.collections:
            raise DataError(f"{d.root}: an already combined dataset cannot be combined again")
        name, k = d.root.name or "data", 2
        while name in collections:
            name, k = f"{d.root.name}-{k}", k + 1
        collections[name] = Collection(d.root, d.images_dir, d.masks_dir)
        # Patient ids of different datasets never name one patient: ``collection/id``.
        records += [replace(r, collection=name, patient_id=f"{name}/{r.patient_id}")
                    for r in d.records]
    roots = [str(d.root.resolve()) for d in datasets]
    common = Path(os.path.commonpath(roots)) if roots else Path(".")
    tasks = {d.task for d in datasets}
    return CXRDataset(root=common, images_dir=common, records=records, form="combined",
                      missing_patient_ids=sum(d.missing_patient_ids for d in datasets),
                      collections=collections, task=tasks.pop() if len(tasks) == 1 else None)


def retask(data: CXRDataset, task: Task) -> CXRDataset:
    """``data`` with its labels read as ``task``'s classes (e.g. a model's), unlabelled images
    kept as they are.

    Raises:
        DataError: A label the task does not know, listed with its file.
    """
    if data.task == task:
        return data
    problems: list[Problem] = []
    multilabel = task.multilabel or (data.task is not None and data.task.multilabel)
    records, _ = resolve_labels(list(data.records), task, data.root, problems,
                                keep_unknown=False, multilabel=multilabel)
    _flush(problems, 0, f"{data.root}: labels that the task ({', '.join(task.classes)}) does "
           "not know", True)
    return replace(data, records=records, task=task)


def write_manifest(path: str | Path, records: Sequence[Record],
                   extra_columns: Sequence[str] = (), *, multilabel: bool = False) -> None:
    """Write records as a ``manifest.csv`` (core columns, then every extra column).

    ``multilabel``: the findings go to a ``labels`` column (``A|B``) instead of ``label``, and
    uncertain findings, where any, to an ``uncertain`` column.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras: list[str] = list(extra_columns)
    if any(r.collection for r in records) and "collection" not in extras:
        extras.append("collection")
    if any(r.uncertain for r in records) and "uncertain" not in extras:
        extras.append("uncertain")
    for r in records:
        for k in r.extra:
            if k not in extras:
                extras.append(k)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "labels" if multilabel else "label", *_CORE[2:], *extras])
        for r in records:
            extra = {**r.extra, "collection": r.collection, "uncertain": FINDING_SEPARATOR.join(
                r.uncertain)}
            writer.writerow([r.filename, r.label or "", r.source, r.patient_id, r.split or "",
                             *(extra.get(k, "") for k in extras)])


def read_splits(path: str | Path) -> list[dict[str, str]]:
    """The rows of a run's ``splits.csv`` (written by :func:`write_manifest`), as strings.

    Raises:
        DataError: The file is missing, unreadable or has no ``filename`` / ``split`` column.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = set(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the run's splits ({exc})") from exc
    if not {"filename", "split"} <= columns:
        raise DataError(f"{path}: not a splits file (no 'filename' and 'split' columns)")
    return rows
