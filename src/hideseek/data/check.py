"""``hideseek data check``: counts, intensity statistics and every problem of a dataset."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hideseek.data.io import DecodedImage, read_image_info, set_max_pixels
from hideseek.data.manifest import CXRDataset, Problem, load_dataset
from hideseek.data.split import patient_overlap
from hideseek.errors import HideseekError

__all__ = ["DataReport", "IntensityStats", "check_dataset", "check_path", "format_report"]

_BINS = 1000


@dataclass
class IntensityStats:
    """Streaming statistics of decoded [0, 1] pixel values (memory does not grow with N).

    Attributes:
        images: Number of images added.
        pixels: Number of pixels added.
        total: Sum of the values.
        total_sq: Sum of the squared values.
        hist: Counts of the values in 1000 equal bins of [0, 1] (for the percentiles).
        depths: How the images were scaled (``8``, ``12``, ``16``, ``window``, ``voi``) -> count.
    """

    images: int = 0
    pixels: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(_BINS, dtype=np.int64))
    depths: Counter[str] = field(default_factory=Counter)

    def add(self, image: DecodedImage) -> None:
        """Add one decoded image."""
        values = image.pixels.astype(np.float64).ravel()
        self.images += 1
        self.pixels += values.size
        self.total += float(values.sum())
        self.total_sq += float(np.square(values).sum())
        self.hist += np.bincount(np.minimum((values * _BINS).astype(np.int64), _BINS - 1),
                                 minlength=_BINS)
        depth = str(image.bits) if image.scaling == str(image.bits) else (
            f"{image.bits}/{image.scaling}")
        self.depths[depth] += 1

    @property
    def mean(self) -> float:
        """Mean pixel value."""
        return self.total / self.pixels if self.pixels else float("nan")

    @property
    def sd(self) -> float:
        """Standard deviation of the pixel values."""
        if not self.pixels:
            return float("nan")
        return float(np.sqrt(max(self.total_sq / self.pixels - self.mean**2, 0.0)))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile, to the histogram's 0.001 resolution."""
        if not self.pixels:
            return float("nan")
        cum = np.cumsum(self.hist)
        return float((np.searchsorted(cum, q / 100.0 * self.pixels) + 0.5) / _BINS)


@dataclass
class DataReport:
    """What :func:`check_dataset` found.

    Attributes:
        counts: (label, source, split) -> number of images.
        unreadable: file name -> reason.
        overlap: patient -> the splits it appears in (more than one is a leak).
        n_images: Images listed (and found).
        n_patients: Distinct patients.
        problems: Every problem found while loading (names, duplicates, labels, missing files...).
        missing_patient_ids: Images without a patient id.
        intensity: (source, label) -> statistics of the decoded images.
    """

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unreadable: dict[str, str] = field(default_factory=dict)
    overlap: dict[str, list[str]] = field(default_factory=dict)
    n_images: int = 0
    n_patients: int = 0
    problems: list[Problem] = field(default_factory=list)
    missing_patient_ids: int = 0
    intensity: dict[tuple[str, str], IntensityStats] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem of any kind was found."""
        return not (self.unreadable or self.overlap or self.problems or self.missing_patient_ids)


def check_dataset(data: CXRDataset, decode: bool = True, *,
                  problems: Sequence[Problem] = ()) -> DataReport:
    """Count a dataset per label x source x split, decode it and find every problem.

    Args:
        data: A loaded dataset.
        decode: Decode every image to find corrupt files and gather intensity statistics.
        problems: Problems the loader already found (see ``load_dataset(problems=...)``).
    """
    report = DataReport(n_images=len(data), n_patients=len({r.patient_id for r in data.records}),
                        problems=list(problems), missing_patient_ids=data.missing_patient_ids)
    for r in data.records:
        report.counts[(r.label or "-", r.source, r.split or "-")] += 1
        if decode:
            try:
                image = read_image_info(data.image_path(r))
            except HideseekError as exc:
                report.unreadable[r.filename] = getattr(exc, "reason", str(exc))
                continue
            key = (r.source, r.label or "-")
            report.intensity.setdefault(key, IntensityStats()).add(image)
    report.overlap = patient_overlap(data.records)
    return report


def check_path(data: str | Path | Sequence[str | Path], images: str | Path | None = None, *,
               decode: bool = True, max_pixels: int | None = None) -> DataReport:
    """Load a dataset leniently and check it: every problem of every kind, in one report.

    Args:
        data: What :func:`~hideseek.data.manifest.load_dataset` accepts.
        images: The images folder of COVIDx split files.
        decode: Decode every image (thorough; needed for the intensity statistics).
        max_pixels: When given, the largest image accepted (see ``set_max_pixels``).
    """
    if max_pixels is not None:
        set_max_pixels(max_pixels)
    found: list[Problem] = []
    loaded = load_dataset(data, images=images, require_label=False, problems=found,
                          keep_unknown_labels=False)
    return check_dataset(loaded, decode=decode, problems=found)


def _table(head: list[str], body: list[list[str]], left: int = 2) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i < left else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*head), fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*row) for row in body)]


def _counts_table(report: DataReport) -> list[str]:
    order = ("train", "val", "test", "-")
    splits = sorted({k[2] for k in report.counts},
                    key=lambda s: order.index(s) if s in order else 9)
    rows = sorted({(k[0], k[1]) for k in report.counts})
    body = []
    for label, source in rows:
        cells = [report.counts[(label, source, s)] for s in splits]
        body.append([label, source, *map(str, cells), str(sum(cells))])
    totals = [sum(report.counts[(lab, src, s)] for lab, src in rows) for s in splits]
    body.append(["all", "", *map(str, totals), str(sum(totals))])
    return _table(["label", "source", *splits, "total"], body)


def _intensity_table(report: DataReport) -> list[str]:
    body = []
    for (source, label), st in sorted(report.intensity.items()):
        depths = ", ".join(f"{d} x{n}" for d, n in sorted(st.depths.items()))
        body.append([source, label, str(st.images), f"{st.mean:.3f}", f"{st.sd:.3f}",
                     f"{st.percentile(1):.3f}", f"{st.percentile(99):.3f}", depths])
    head = ["source", "label", "images", "mean", "sd", "p1", "p99", "bits/scaling"]
    return ["\nintensity of the decoded [0, 1] images per source x label "
            "(a format or scanner signature shows here):", *_table(head, body)]


def format_report(report: DataReport) -> str:
    """The report as plain-text tables, then every problem grouped by kind."""
    lines = _counts_table(report)
    if report.intensity:
        lines += _intensity_table(report)
    lines.append(f"\n{report.n_images} images, {report.n_patients} patients")
    by_kind: dict[str, list[str]] = {}
    for p in report.problems:
        by_kind.setdefault(p.kind, []).append(p.message)
    for kind, messages in by_kind.items():
        lines.append(f"{kind} problems: {len(messages)}")
        lines += [f"  {m}" for m in messages]
    lines.append(f"images without patient_id: {report.missing_patient_ids}"
                 + (" (each counted as its own patient: splits cannot group a patient's images)"
                    if report.missing_patient_ids else ""))
    lines.append(f"unreadable files: {len(report.unreadable)}")
    lines += [f"  {name}: {why}" for name, why in sorted(report.unreadable.items())]
    lines.append(f"patients in more than one split: {len(report.overlap)}")
    lines += [f"  {p}: {', '.join(s)}" for p, s in sorted(report.overlap.items())]
    status = "OK" if report.ok else "problems found"
    lines.append(f"status: {status}")
    return "\n".join(lines)
