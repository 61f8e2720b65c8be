"""``hideseek data check``: counts and problems of a dataset, as a table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hideseek.data.io import read_image
from hideseek.data.manifest import CXRDataset
from hideseek.data.split import patient_overlap
from hideseek.errors import HideseekError

__all__ = ["DataReport", "check_dataset", "format_report"]


@dataclass
class DataReport:
    """What :func:`check_dataset` found.

    Attributes:
        counts: (label, source, split) -> number of images.
        unreadable: file name -> reason.
        overlap: patient -> the splits it appears in (more than one is a leak).
    """

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unreadable: dict[str, str] = field(default_factory=dict)
    overlap: dict[str, list[str]] = field(default_factory=dict)
    n_images: int = 0
    n_patients: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is unreadable and no patient is in two splits."""
        return not self.unreadable and not self.overlap


def check_dataset(data: CXRDataset, decode: bool = True) -> DataReport:
    """Count a dataset per label x source x split and find unreadable files and patient leaks.

    Args:
        data: A loaded dataset (missing files were already refused by the loader).
        decode: Decode every image to find corrupt files (slower, thorough).
    """
    report = DataReport(n_images=len(data), n_patients=len({r.patient_id for r in data.records}))
    for r in data.records:
        report.counts[(r.label or "-", r.source, r.split or "-")] += 1
        if decode:
            try:
                read_image(data.image_path(r))
            except HideseekError as exc:
                report.unreadable[r.filename] = getattr(exc, "reason", str(exc))
    report.overlap = patient_overlap(data.records)
    return report


def format_report(report: DataReport) -> str:
    """The report as a plain-text table."""
    splits = sorted({k[2] for k in report.counts}, key=lambda s: ("train", "val", "test",
                                                                 "-").index(s)
                    if s in ("train", "val", "test", "-") else 9)
    rows = sorted({(k[0], k[1]) for k in report.counts})
    head = ["label", "source", *splits, "total"]
    body = []
    for label, source in rows:
        cells = [report.counts[(label, source, s)] for s in splits]
        body.append([label, source, *map(str, cells), str(sum(cells))])
    totals = [sum(report.counts[(lab, src, s)] for lab, src in rows) for s in splits]
    body.append(["all", "", *map(str, totals), str(sum(totals))])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in body]
    lines.append(f"\n{report.n_images} images, {report.n_patients} patients")
    lines.append(f"unreadable files: {len(report.unreadable)}")
    lines += [f"  {name}: {why}" for name, why in sorted(report.unreadable.items())]
    lines.append(f"patients in more than one split: {len(report.overlap)}")
    lines += [f"  {p}: {', '.join(s)}" for p, s in sorted(report.overlap.items())]
    return "\n".join(lines)
