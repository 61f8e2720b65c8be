"""Datasets named by one path: a pack folder (manifest + images) or a COVIDx split file.

Loading validates everything up front and reports every problem at once; nothing is dropped
silently.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from hideseek.data.labels import normalise_label
from hideseek.errors import DataError

__all__ = [
    "SPLITS",
    "CXRDataset",
    "Record",
    "load_dataset",
    "safe_relative_name",
    "write_manifest",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                  "validation": "val", "test": "test", "testing": "test"}
_CORE = ("filename", "label", "source", "patient_id", "split")
_MAX_LISTED = 20


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
    """

    filename: str
    label: str | None
    source: str = "unknown"
    patient_id: str = ""
    split: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class CXRDataset:
    """A validated list of records and where their files live.

    Attributes:
        root: Folder (or split file) the dataset was loaded from.
        images_dir: Folder the record file names are relative to.
        records: The images.
        masks_dir: Lung masks (same file names), when the dataset has them.
        form: ``pack`` or ``covidx``.
        split_files: The COVIDx split files it was read from (``covidx`` form).
    """

    root: Path
    images_dir: Path
    records: list[Record]
    masks_dir: Path | None = None
    form: str = "pack"
    split_files: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def image_path(self, record: Record) -> Path:
        """The image file of ``record``."""
        return self.images_dir / record.filename

    def subset(self, split: str) -> CXRDataset:
        """The records of one split."""
        return replace(self, records=[r for r in self.records if r.split == split])

    def with_records(self, records: list[Record]) -> CXRDataset:
        """The same dataset with other records."""
        return replace(self, records=records)


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
    shown = "\n  ".join(items[:_MAX_LISTED])
    more = f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"{title} ({len(items)}):\n  {shown}{more}"


def _normalise_split(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    return _SPLIT_ALIASES.get(raw.strip().lower(), "?" + raw)


def _build_records(rows: Iterable[tuple[int, dict[str, str]]], origin: str,
                   require_label: bool) -> list[Record]:
    problems: list[str] = []
    records: list[Record] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        raw_name = row.get("filename") or ""
        name = safe_relative_name(raw_name)
        if name is None:
            problems.append(f"{origin} line {line}: file name {raw_name!r} is empty, absolute "
                            "or contains '..'")
            continue
        if name in seen:
            problems.append(f"{origin} line {line}: duplicate file name {name!r} "
                            f"(first on line {seen[name]})")
            continue
        seen[name] = line
        raw_label = (row.get("label") or "").strip()
        label = normalise_label(raw_label) if raw_label else None
        if raw_label and label is None:
            problems.append(f"{origin} line {line}: unknown label {raw_label!r} for {name} "
                            "(expected normal, pneumonia or COVID-19)")
            continue
        if label is None and require_label:
            problems.append(f"{origin} line {line}: missing label for {name}")
            continue
        split = _normalise_split(row.get("split"))
        if split is not None and split.startswith("?"):
            problems.append(f"{origin} line {line}: unknown split {split[1:]!r} for {name} "
                            "(expected train, val or test)")
            continue
        extra = {k: v for k, v in row.items() if k not in _CORE and k is not None}
        records.append(Record(
            filename=name,
            label=label,
            source=(row.get("source") or "").strip() or "unknown",
            patient_id=(row.get("patient_id") or "").strip() or name,
            split=split,
            extra=extra,
        ))
    if problems:
        raise DataError(_problem_list(f"{origin}: invalid rows", problems))
    if not records:
        raise DataError(f"{origin}: no images listed")
    return records


def _check_files(records: Sequence[Record], folder: Path, what: str) -> None:
    missing = [r.filename for r in records if not (folder / r.filename).is_file()]
    if missing:
        raise DataError(_problem_list(f"{what} missing under {folder}", missing))


def _load_pack(root: Path, require_label: bool) -> CXRDataset:
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise DataError(f"{root}: no manifest.csv (a dataset folder holds manifest.csv and "
                        "images/, or pass a COVIDx split file with --images DIR)")
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        needed = ["filename", "label"] if require_label else ["filename"]
        lacking = [c for c in needed if c not in columns]
        if lacking:
            raise DataError(f"{manifest}: missing column(s) {', '.join(lacking)} "
                            f"(has: {', '.join(columns) or 'none'})")
        reader.fieldnames = columns
        rows = [(i + 2, {k: (v or "") for k, v in row.items()}) for i, row in enumerate(reader)]
    records = _build_records(rows, str(manifest), require_label)
    images = root / "images"
    if not images.is_dir():
        raise DataError(f"{root}: no images/ folder beside manifest.csv")
    _check_files(records, images, "image files")
    masks = root / "masks"
    return CXRDataset(root=root, images_dir=images, records=records,
                      masks_dir=masks if masks.is_dir() else None, form="pack")


def _covidx_split_name(path: Path) -> str | None:
    stem = path.stem.lower()
    for key in ("train", "val", "test"):
        if key in stem:
            return key
    return None


def _load_covidx(split_files: Sequence[Path], images: Path) -> CXRDataset:
    all_records: list[Record] = []
    for split_file in split_files:
        if not split_file.is_file():
            raise DataError(f"{split_file}: split file not found")
        split = _covidx_split_name(split_file)
        rows: list[tuple[int, dict[str, str]]] = []
        problems: list[str] = []
        for i, line in enumerate(split_file.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 3:
                problems.append(f"{split_file} line {i}: expected 'patient_id filename label "
                                f"[source]', got {line!r}")
                continue
            row = {"patient_id": parts[0], "filename": parts[1], "label": parts[2],
                   "source": parts[3] if len(parts) > 3 else "", "split": split or ""}
            rows.append((i, row))
        if problems:
            raise DataError(_problem_list(f"{split_file}: malformed lines", problems))
        all_records += _build_records(rows, str(split_file), require_label=True)
    # COVIDx keeps train/ and test/ subfolders; accept both that and a flat folder.
    resolved = []
    for r in all_records:
        if r.split and (images / r.split / r.filename).is_file():
            r = replace(r, filename=f"{r.split}/{r.filename}")
        resolved.append(r)
    counts = Counter(r.filename for r in resolved)
    dup = sorted(name for name, n in counts.items() if n > 1)
    if dup:
        raise DataError(_problem_list("duplicate file names across split files", dup))
    _check_files(resolved, images, "image files")
    return CXRDataset(root=split_files[0], images_dir=images, records=resolved, form="covidx",
                      split_files=list(split_files))


def load_dataset(data: str | Path | Sequence[str | Path], images: str | Path | None = None,
                 require_label: bool = True) -> CXRDataset:
    """Load and validate a dataset.

    Args:
        data: A pack folder (``manifest.csv``, ``images/``, optional ``masks/``), or one or more
            COVIDx split files (``patient_id filename label [source]`` per line).
        images: The images folder, required with COVIDx split files.
        require_label: False for segmentation sets whose manifest may lack labels.

    Raises:
        DataError: Listing every invalid row or missing file.
    """
    paths = [Path(p) for p in ([data] if isinstance(data, (str, Path)) else data)]
    if len(paths) == 1 and paths[0].is_dir():
        if images is not None:
            raise DataError(f"{paths[0]}: --images is only for COVIDx split files")
        return _load_pack(paths[0], require_label)
    if not all(p.exists() for p in paths):
        missing = [str(p) for p in paths if not p.exists()]
        raise DataError(f"dataset not found: {', '.join(missing)}")
    if images is None:
        raise DataError(f"{paths[0]}: a COVIDx split file needs --images DIR")
    images = Path(images)
    if not images.is_dir():
        raise DataError(f"{images}: images folder not found")
    return _load_covidx(paths, images)


def write_manifest(path: str | Path, records: Sequence[Record],
                   extra_columns: Sequence[str] = ()) -> None:
    """Write records as a ``manifest.csv`` (core columns, then every extra column)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras: list[str] = list(extra_columns)
    for r in records:
        for k in r.extra:
            if k not in extras:
                extras.append(k)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*_CORE, *extras])
        for r in records:
            writer.writerow([r.filename, r.label or "", r.source, r.patient_id, r.split or "",
                             *(r.extra.get(k, "") for k in extras)])
