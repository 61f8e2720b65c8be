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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from hideseek.data.labels import normalise_label
from hideseek.data.masks import find_mask
from hideseek.errors import DataError, cut_list

__all__ = [
    "IMAGE_SUFFIXES",
    "SPLITS",
    "CXRDataset",
    "Collection",
    "Problem",
    "Record",
    "combine_datasets",
    "load_dataset",
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
        label: Normalised label, or None for an unlabelled segmentation set.
        source: Data source (``unknown`` when the dataset does not say).
        patient_id: Patient identifier (the file name when the dataset has none).
        split: ``train``, ``val``, ``test`` or None (not assigned yet).
        extra: Other manifest columns, kept and written back.
        collection: The dataset it came from when several are read together
            (:func:`combine_datasets`); empty for a single dataset.
    """

    filename: str
    label: str | None
    source: str = "unknown"
    patient_id: str = ""
    split: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    collection: str = ""

    @property
    def key(self) -> str:
        """A name unique across collections: ``collection/filename`` (the file name alone for
        a single dataset)."""
        return f"{self.collection}/{self.filename}" if self.collection else self.filename


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
    """

    root: Path
    images_dir: Path
    records: list[Record]
    masks_dir: Path | None = None
    form: str = "pack"
    split_files: list[Path] = field(default_factory=list)
    missing_patient_ids: int = 0
    collections: dict[str, Collection] = field(default_factory=dict)

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
                problems: list[Problem], keep_unknown: bool = False) -> Record | None:
    """The record of one row, or None after adding its problem."""
    raw_name = row.get("filename") or ""
    name = safe_relative_name(raw_name)
    if name is None:
        problems.append(Problem("name", f"{origin} line {line}: file name {raw_name!r} is empty, "
                                "absolute or contains '..'"))
        return None
    raw_label = (row.get("label") or "").strip()
    label = normalise_label(raw_label) if raw_label else None
    if raw_label and label is None and keep_unknown:
        label = raw_label  # commands that need no label never reject one
    elif raw_label and label is None:
        problems.append(Problem("label", f"{origin} line {line}: unknown label {raw_label!r} for "
                                f"{name} (expected normal, pneumonia or COVID-19)"))
        return None
    if label is None and require_label:
        problems.append(Problem("label", f"{origin} line {line}: missing label for {name}"))
        return None
    split = _normalise_split(row.get("split"))
    if split is not None and split.startswith("?"):
        problems.append(Problem("split", f"{origin} line {line}: unknown split {split[1:]!r} for "
                                f"{name} (expected train, val or test)"))
        return None
    return Record(
        filename=name,
        label=label,
        source=(row.get("source") or "").strip() or "unknown",
        patient_id=(row.get("patient_id") or "").strip(),
        split=split,
        extra={k: v for k, v in row.items() if k not in _CORE and k is not None},
    )


def _build_records(rows: Iterable[tuple[int, dict[str, str]]], origin: str,
                   require_label: bool, problems: list[Problem],
                   keep_unknown: bool = False) -> list[Record]:
    """Valid records of ``rows``; a missing patient id stays empty (see :func:`_fill_patients`)."""
    records: list[Record] = []
    seen: dict[str, int] = {}
    negatives = 0
    for line, row in rows:
        record = _row_record(line, row, origin, require_label, problems, keep_unknown)
        if record is None:
            continue
        negatives += (row.get("label") or "").strip().lower() == "negative"
        if record.filename in seen:
            problems.append(Problem("duplicate", f"{origin} line {line}: duplicate file name "
                                    f"{record.filename!r} (first on line {seen[record.filename]})"))
            continue
        seen[record.filename] = line
        records.append(record)
    if negatives:
        log.warning("%s: %d images labelled 'negative' (binary labels, as in COVIDx CXR-2 and "
                    "later: normal and non-COVID pneumonia together) are read as class 'normal'; "
                    "results for 'normal' then mean 'not COVID-19'", origin, negatives)
    return records


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


def _read_manifest(manifest: Path, require_label: bool) -> list[tuple[int, dict[str, str]]]:
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        needed = ["filename", "label"] if require_label else ["filename"]
        lacking = [c for c in needed if c not in columns]
        if lacking:
            raise DataError(f"{manifest}: missing column(s) {', '.join(lacking)} "
                            f"(has: {', '.join(columns) or 'none'})")
        reader.fieldnames = columns
        return [(i + 2, {k: (v or "") for k, v in row.items()}) for i, row in enumerate(reader)]


def _load_pack(root: Path, require_label: bool, problems: list[Problem],
               strict: bool, keep_unknown: bool) -> CXRDataset:
    manifest = root / "manifest.csv"
    rows = _read_manifest(manifest, require_label)
    records = _build_records(rows, str(manifest), require_label, problems, keep_unknown)
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
                      missing_patient_ids=missing)


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


def _load_folder(root: Path, require_label: bool) -> CXRDataset:
    """An ImageFolder tree (``root/<label>/*``) or, without labels, a bare folder of images."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    labels = {d.name: normalise_label(d.name) for d in subdirs}
    if subdirs and all(labels.values()):
        records = [Record(filename=p.relative_to(root).as_posix(), label=labels[d.name])
                   for d in subdirs for p in _image_files(d)]
        form = "imagefolder"
    elif not require_label:
        records = [Record(filename=p.relative_to(root).as_posix(), label=None)
                   for p in _image_files(root)]
        form = "folder"
    else:
        unknown = [name for name, label in labels.items() if label is None]
        hint = (f"; subfolder(s) {', '.join(unknown[:10])} are not labels (normal, pneumonia, "
                "COVID-19)" if unknown and len(unknown) < len(labels) else "")
        raise DataError(f"{root}: no manifest.csv (a dataset folder holds manifest.csv and "
                        "images/, or one subfolder per label, or pass a COVIDx split file with "
                        f"--images DIR){hint}")
    if not records:
        raise DataError(f"{root}: no manifest.csv and no image files "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    records, missing = _fill_patients(records, root)
    return CXRDataset(root=root, images_dir=root, records=records, form=form,
                      missing_patient_ids=missing)


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
                 strict: bool) -> CXRDataset:
    all_records: list[Record] = []
    for split_file in split_files:
        if not split_file.is_file():
            raise DataError(f"{split_file}: split file not found")
        start = len(problems)
        rows = _covidx_rows(split_file, problems)
        _flush(problems, start, f"{split_file}: malformed lines", strict)
        all_records += _build_records(rows, str(split_file), True, problems)
        _flush(problems, start, f"{split_file}: invalid rows", strict)
        _require_some(all_records, str(split_file), problems, strict)
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
                      split_files=list(split_files), missing_patient_ids=missing)


def load_dataset(data: str | Path | Sequence[str | Path], images: str | Path | None = None,
                 require_label: bool = True, *,
                 problems: list[Problem] | None = None,
                 keep_unknown_labels: bool | None = None) -> CXRDataset:
    """Load and validate a dataset.

    Args:
        data: A pack folder (``manifest.csv``, ``images/``, optional ``masks/``), an ImageFolder
            tree (``DATA/<label>/*.png``, no manifest), a bare folder of images (only with
            ``require_label=False``), one or more COVIDx split files (``patient_id filename
            label [source]`` per line), or several folders read together
            (:func:`combine_datasets`).
        images: The images folder, required with COVIDx split files.
        require_label: False for commands that need no labels (segmentation): a missing label
            is no problem and an unknown one is kept as written.
        problems: When given, invalid rows, duplicates and missing files are appended here and
            left out of the dataset instead of raising (the data check lists them all).
        keep_unknown_labels: Keep a label that is none of the known ones as written instead of
            reporting it (default: when ``require_label`` is False).

    Raises:
        DataError: Listing every invalid row or missing file (without ``problems``), or when
            the dataset cannot be found or has no usable structure.
    """
    strict = problems is None
    keep = not require_label if keep_unknown_labels is None else keep_unknown_labels
    sink: list[Problem] = [] if problems is None else problems
    paths = [Path(p) for p in ([data] if isinstance(data, (str, Path)) else data)]
    if len(paths) > 1 and all(p.is_dir() for p in paths):
        if images is not None:
            raise DataError(f"{paths[0]}: --images is only for COVIDx split files")
        return combine_datasets([load_dataset(p, require_label=require_label, problems=problems,
                                              keep_unknown_labels=keep) for p in paths])
    if len(paths) == 1 and paths[0].is_dir():
        if images is not None:
            raise DataError(f"{paths[0]}: --images is only for COVIDx split files")
        if (paths[0] / "manifest.csv").is_file():
            return _load_pack(paths[0], require_label, sink, strict, keep)
        return _load_folder(paths[0], require_label)
    if not all(p.exists() for p in paths):
        missing = [str(p) for p in paths if not p.exists()]
        raise DataError(f"dataset not found: {', '.join(missing)}")
    if images is None:
        raise DataError(f"{paths[0]}: a COVIDx split file needs --images DIR")
    images = Path(images)
    if not images.is_dir():
        raise DataError(f"{images}: images folder not found")
    return _load_covidx(paths, images, sink, strict)


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
    return CXRDataset(root=common, images_dir=common, records=records, form="combined",
                      missing_patient_ids=sum(d.missing_patient_ids for d in datasets),
                      collections=collections)


def write_manifest(path: str | Path, records: Sequence[Record],
                   extra_columns: Sequence[str] = ()) -> None:
    """Write records as a ``manifest.csv`` (core columns, then every extra column)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras: list[str] = list(extra_columns)
    if any(r.collection for r in records) and "collection" not in extras:
        extras.append("collection")
    for r in records:
        for k in r.extra:
            if k not in extras:
                extras.append(k)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*_CORE, *extras])
        for r in records:
            extra = {**r.extra, "collection": r.collection} if r.collection else r.extra
            writer.writerow([r.filename, r.label or "", r.source, r.patient_id, r.split or "",
                             *(extra.get(k, "") for k in extras)])
