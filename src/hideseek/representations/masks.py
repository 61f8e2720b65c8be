"""Finding and judging the lung mask of every image, and the bad-mask policy."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hideseek.data.io import image_shape, read_mask
from hideseek.data.manifest import CXRDataset, Record
from hideseek.data.masks import find_mask
from hideseek.errors import DataError, HideseekError, cut_list
from hideseek.segmentation.postprocess import lung_boxes, mask_problem

__all__ = [
    "BAD_MASK_POLICIES",
    "REGIONS_FILE",
    "MaskInfo",
    "apply_policy",
    "assess_masks",
    "find_mask",
    "mask_qc_table",
    "perturb_mask",
    "read_flags",
    "resolve_masks_dir",
]

#: ``exclude`` (default): leave out images whose mask is bad (missing, unreadable, empty,
#: implausible area); ``keep-original``: show them unchanged in every version; ``error``: stop;
#: ``exclude-flagged``: also leave out masks that ``segment predict`` flagged in the
#: ``regions.csv`` beside the masks folder (implausible shape, many raw components, low
#: confidence: :mod:`hideseek.segmentation.qc`).
BAD_MASK_POLICIES = ("exclude", "keep-original", "error", "exclude-flagged")
#: The ``segment predict`` table read by ``exclude-flagged``, next to the masks folder.
REGIONS_FILE = "regions.csv"


@dataclass(frozen=True)
class MaskInfo:
    """What is known about one image's lung mask."""

    filename: str
    label: str
    source: str
    path: Path | None
    area_fraction: float = 0.0
    n_components: int = 0
    problem: str = ""  # "", "missing", "unreadable: ...", "empty", "implausible_area"
    flagged: bool | None = None  # flagged by segment predict's QC; None: no regions.csv row
    flag_reason: str = ""

    @property
    def bad(self) -> bool:
        """Missing, unreadable, or bad by :func:`~hideseek.segmentation.postprocess.mask_problem`
        (empty or implausible area; one lung is not bad)."""
        return bool(self.problem)

    @property
    def one_lung(self) -> bool:
        """Only one lung component (information only, not a problem)."""
        return self.n_components == 1


def resolve_masks_dir(path: str | Path) -> Path:
    """Accept a folder of masks or a ``segment predict`` output folder (with ``masks/``)."""
    path = Path(path)
    if (path / "masks").is_dir() and (path / "regions.csv").is_file():
        return path / "masks"
    if not path.is_dir():
        raise DataError(f"{path}: masks folder not found")
    return path


def read_flags(masks_dir: Path) -> dict[str, tuple[bool, str]] | None:
    """The QC flags of ``segment predict`` by image file name (flagged, reason), from the
    ``regions.csv`` next to ``masks_dir``; None when there is none (or it predates the flags).

    Raises:
        DataError: The file cannot be read.
    """
    path = Path(masks_dir).parent / REGIONS_FILE
    if not path.is_file():
        return None
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if "flagged" not in (reader.fieldnames or []):
                return None
            return {row["filename"]: (row["flagged"] == "1", row.get("reason") or "")
                    for row in reader}
    except (OSError, csv.Error, KeyError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable regions table ({exc})") from exc


def assess_masks(data: CXRDataset, masks_dir: Path,
                 plausible_area: tuple[float, float] = (0.05, 0.6)) -> list[MaskInfo]:
    """Read every mask once and judge it (missing, unreadable, empty, implausible area); carry
    the QC flags of the ``regions.csv`` next to ``masks_dir`` when there is one."""
    flags = read_flags(masks_dir) or {}
    out = []
    for r in data.records:
        path = find_mask(masks_dir, r.filename)
        label = r.label or "-"
        flagged, reason = flags.get(r.filename, (None, ""))
        if path is None:
            out.append(MaskInfo(r.filename, label, r.source, path, problem="missing",
                                flagged=flagged, flag_reason=reason))
            continue
        try:
            mask = read_mask(path, image_shape(data.image_path(r)))
        except HideseekError as exc:
            out.append(MaskInfo(r.filename, label, r.source, path, problem=f"unreadable: {exc}",
                                flagged=flagged, flag_reason=reason))
            continue
        area, n_components = float(mask.mean()), len(lung_boxes(mask))
        out.append(MaskInfo(r.filename, label, r.source, path, area, n_components,
                            mask_problem(area, n_components, plausible_area), flagged, reason))
    return out


def apply_policy(records: list[Record], infos: list[MaskInfo],
                 policy: str) -> tuple[list[Record], set[str]]:
    """Apply the bad-mask policy.

    Returns:
        The records kept (same order) and the file names whose five versions are all the
        original image (``keep-original``).

    Raises:
        DataError: ``error`` policy and at least one bad mask (all are listed);
            ``exclude-flagged`` and masks without QC flags (no ``regions.csv`` of
            ``segment predict`` beside them).
    """
    if policy not in BAD_MASK_POLICIES:
        raise ValueError(f"unknown bad-mask policy {policy!r}; choose from {BAD_MASK_POLICIES}")
    bad = {i.filename: i.problem for i in infos if i.bad}
    if policy == "exclude-flagged":
        unknown = [i for i in infos if i.flagged is None and not i.bad]
        if unknown:
            where = unknown[0].path.parent if unknown[0].path is not None else "the masks"
            raise DataError(f"{where}: --on-bad-mask exclude-flagged needs the QC flags of "
                            f"'hideseek segment predict' ({REGIONS_FILE} next to the masks "
                            f"folder); {len(unknown)} mask(s) have none, e.g. "
                            f"{unknown[0].filename}")
        flagged = {i.filename for i in infos if i.flagged}
        return [r for r in records if r.filename not in bad and r.filename not in flagged], set()
    if policy == "error" and bad:
        listed = "\n  ".join(cut_list([f"{k}: {v}" for k, v in bad.items()]))
        raise DataError(f"{len(bad)} image(s) have a bad lung mask:\n  {listed}")
    if policy == "exclude":
        return [r for r in records if r.filename not in bad], set()
    return list(records), set(bad) if policy == "keep-original" else set()


def mask_qc_table(infos: list[MaskInfo]) -> list[dict[str, object]]:
    """Lung area fraction per label x source (a size that differs by class is itself a leak).

    With the QC flags of ``segment predict`` (:func:`read_flags`), each row also counts the
    masks flagged and their share (a segmenter that fails more on one source is itself a
    confound).
    """
    with_flags = any(i.flagged is not None for i in infos)
    groups: dict[tuple[str, str], list[MaskInfo]] = defaultdict(list)
    for i in infos:
        groups[(i.label, i.source)].append(i)
    rows: list[dict[str, object]] = []
    for (label, source), items in sorted(groups.items()):
        areas = np.array([i.area_fraction for i in items if not i.problem.startswith(("missing",
                                                                                       "unread"))])
        rows.append({
            "label": label, "source": source, "n": len(items),
            "area_mean": round(float(areas.mean()), 4) if areas.size else float("nan"),
            "area_sd": round(float(areas.std(ddof=1)), 4) if areas.size > 1 else float("nan"),
            "one_lung": sum(i.one_lung for i in items),
            "empty": sum(i.problem == "empty" for i in items),
            "implausible_area": sum(i.problem == "implausible_area" for i in items),
            "missing_or_unreadable": sum(i.problem.startswith(("missing", "unread"))
                                         for i in items),
        })
        if with_flags:
            flagged = sum(bool(i.flagged) for i in items)
            rows[-1].update({"flagged": flagged, "flagged_fraction": round(flagged / len(items),
                                                                           4)})
    return rows


#: The mask change of the robustness check: 2% of the lung width (the shipped U-Net's Dice on
#: unseen hospitals, 0.92-0.95, puts real masks a few percent of a lung off).
MASK_CHANGE = 0.02


def perturb_mask(mask: np.ndarray, change: float) -> np.ndarray:
    """The mask grown (``change`` > 0) or shrunk (< 0) by ``|change|`` of the lung width: the
    mean width of its lung boxes, in pixels (at least one pixel)."""
    from scipy import ndimage

    mask = mask.astype(bool)
    if change == 0 or not mask.any():
        return mask
    boxes = lung_boxes(mask)
    width = float(np.mean([b[2] - b[0] for b in boxes])) if boxes else float(mask.shape[1])
    k = max(1, round(abs(change) * width))
    op = ndimage.binary_dilation if change > 0 else ndimage.binary_erosion
    return np.asarray(op(mask, iterations=k))

