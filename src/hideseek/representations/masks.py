"""Finding and judging the lung mask of every image, and the bad-mask policy."""

from __future__ import annotations

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
    "MaskInfo",
    "apply_policy",
    "assess_masks",
    "find_mask",
    "mask_qc_table",
    "resolve_masks_dir",
]

BAD_MASK_POLICIES = ("exclude", "keep-original", "error")


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


def assess_masks(data: CXRDataset, masks_dir: Path,
                 plausible_area: tuple[float, float] = (0.05, 0.6)) -> list[MaskInfo]:
    """Read every mask once and judge it (missing, unreadable, empty, implausible area)."""
    out = []
    for r in data.records:
        path = find_mask(masks_dir, r.filename)
        label = r.label or "-"
        if path is None:
            out.append(MaskInfo(r.filename, label, r.source, path, problem="missing"))
            continue
        try:
            mask = read_mask(path, image_shape(data.image_path(r)))
        except HideseekError as exc:
            out.append(MaskInfo(r.filename, label, r.source, path, problem=f"unreadable: {exc}"))
            continue
        area, n_components = float(mask.mean()), len(lung_boxes(mask))
        out.append(MaskInfo(r.filename, label, r.source, path, area, n_components,
                            mask_problem(area, n_components, plausible_area)))
    return out


def apply_policy(records: list[Record], infos: list[MaskInfo],
                 policy: str) -> tuple[list[Record], set[str]]:
    """Apply the bad-mask policy.

    Returns:
        The records kept (same order) and the file names whose five versions are all the
        original image (``keep-original``).

    Raises:
        DataError: ``error`` policy and at least one bad mask (all are listed).
    """
    if policy not in BAD_MASK_POLICIES:
        raise ValueError(f"unknown bad-mask policy {policy!r}; choose from {BAD_MASK_POLICIES}")
    bad = {i.filename: i.problem for i in infos if i.bad}
    if policy == "error" and bad:
        listed = "\n  ".join(cut_list([f"{k}: {v}" for k, v in bad.items()]))
        raise DataError(f"{len(bad)} image(s) have a bad lung mask:\n  {listed}")
    if policy == "exclude":
        return [r for r in records if r.filename not in bad], set()
    return list(records), set(bad) if policy == "keep-original" else set()


def mask_qc_table(infos: list[MaskInfo]) -> list[dict[str, object]]:
    """Lung area fraction per label x source (a size that differs by class is itself a leak)."""
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
    return rows
