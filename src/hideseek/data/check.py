"""``hideseek data check``: counts, intensity statistics, every problem and every warning.

Problems make the check fail (exit 1): nothing can be done with the data as it is (unreadable
files, bad names, duplicates, missing files, patients in several splits, unknown splits).
Warnings say where results cannot mean much but the data can be used (exit 0; ``--strict``
makes them fail): missing patient ids, fewer than :data:`MIN_PER_CLASS` images in a class, one
source only, an empty or tiny test split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.data.io import DecodedImage, read_image_info, set_max_pixels
from hideseek.data.manifest import CXRDataset, Problem, load_dataset
from hideseek.data.split import patient_overlap, split_warnings
from hideseek.errors import HideseekError
from hideseek.task import Task

__all__ = ["MIN_PER_CLASS", "DataReport", "IntensityStats", "check_dataset", "check_path",
           "dataset_warnings", "format_report"]

_BINS = 1000
#: A class with fewer images than this gets a warning.
MIN_PER_CLASS = 10


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
        task: The task the labels were read as (None: no labels).
        warnings: Where results cannot mean much (see :func:`dataset_warnings`); the data
            can still be used.
    """

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unreadable: dict[str, str] = field(default_factory=dict)
    overlap: dict[str, list[str]] = field(default_factory=dict)
    n_images: int = 0
    n_patients: int = 0
    problems: list[Problem] = field(default_factory=list)
    missing_patient_ids: int = 0
    intensity: dict[tuple[str, str], IntensityStats] = field(default_factory=dict)
    task: Task | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found (warnings aside)."""
        return not (self.unreadable or self.overlap or self.problems)

    def passed(self, strict: bool = False) -> bool:
        """True when the check passes: no problem, and with ``strict`` no warning either."""
        return self.ok and not (strict and self.warnings)

    def status(self, strict: bool = False) -> str:
        """``OK``, ``OK with N warning(s)``, ``warnings (--strict)`` or ``problems found``."""
        if not self.ok:
            return "problems found"
        if not self.warnings:
            return "OK"
        n = len(self.warnings)
        return f"{n} warning(s), failing under --strict" if strict else f"OK with {n} warning(s)"

    def problems_by_kind(self) -> dict[str, list[str]]:
        """Every problem as kind -> messages (unreadable files and patient overlap included)."""
        by_kind: dict[str, list[str]] = {}
        for p in self.problems:
            by_kind.setdefault(p.kind, []).append(p.message)
        if self.unreadable:
            by_kind["unreadable"] = [f"{n}: {why}" for n, why in sorted(self.unreadable.items())]
        if self.overlap:
            by_kind["patient in several splits"] = [f"{p}: {', '.join(s)}"
                                                    for p, s in sorted(self.overlap.items())]
        return by_kind

    def to_json(self, strict: bool = False) -> dict[str, Any]:
        """The report as JSON values (``data check --json``)."""
        def none(v: str) -> str | None:
            return None if v == "-" else v

        return {
            "status": self.status(strict), "passed": self.passed(strict), "strict": strict,
            "n_images": self.n_images, "n_patients": self.n_patients,
            "missing_patient_ids": self.missing_patient_ids,
            "counts": [{"label": none(lab), "source": src, "split": none(split), "images": n}
                       for (lab, src, split), n in sorted(self.counts.items())],
            "intensity": [{"source": src, "label": none(lab), "images": st.images,
                           "mean": st.mean, "sd": st.sd, "p1": st.percentile(1),
                           "p99": st.percentile(99), "scaling": dict(sorted(st.depths.items()))}
                          for (src, lab), st in sorted(self.intensity.items())],
            "problems": self.problems_by_kind(),
            "warnings": list(self.warnings),
        }


def check_dataset(data: CXRDataset, decode: bool = True, *,
                  problems: Sequence[Problem] = ()) -> DataReport:
    """Count a dataset per label x source x split, decode it and find every problem.

    Args:
        data: A loaded dataset.
        decode: Decode every image to find corrupt files and gather intensity statistics.
        problems: Problems the loader already found (see ``load_dataset(problems=...)``).
    """
    report = DataReport(n_images=len(data), n_patients=len({r.patient_id for r in data.records}),
                        problems=list(problems), missing_patient_ids=data.missing_patient_ids,
                        task=data.task)
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
    report.warnings = dataset_warnings(data)
    return report


def dataset_warnings(data: CXRDataset, min_per_class: int = MIN_PER_CLASS) -> list[str]:
    """Where results on ``data`` cannot mean much, one sentence each: missing patient ids,
    classes with fewer than ``min_per_class`` images, one source only, and an empty or tiny
    test split (:func:`~hideseek.data.split.split_warnings`, when splits are given)."""
    found = []
    n = len(data.records)
    if data.missing_patient_ids:
        found.append(f"{data.missing_patient_ids} of {n} images have no patient_id: each counts "
                     "as its own patient, so splits cannot keep a patient's images together")
    per_class = Counter(r.label for r in data.records if r.label)
    small = {lab: k for lab, k in sorted(per_class.items()) if k < min_per_class}
    if small:
        found.append(f"fewer than {min_per_class} images in class "
                     + ", ".join(f"{lab} ({k})" for lab, k in small.items())
                     + ": its results mean little")
    sources = {r.source for r in data.records}
    if n and len(sources) == 1:
        found.append(f"one source only ({next(iter(sources))}): whether the model tells sources "
                     "apart (a shortcut) cannot be measured")
    return found + split_warnings(data.records)


def check_path(data: str | Path | Sequence[str | Path], images: str | Path | None = None, *,
               decode: bool = True, max_pixels: int | None = None,
               task: Task | str | None = None) -> DataReport:
    """Load a dataset leniently and check it: every problem of every kind, in one report.

    Args:
        data: What :func:`~hideseek.data.manifest.load_dataset` accepts.
        images: The images folder of COVIDx split files.
        decode: Decode every image (thorough; needed for the intensity statistics).
        max_pixels: When given, the largest image accepted (see ``set_max_pixels``).
        task: The declared task (labels it does not know are problems); None reads it from
            the labels.
    """
    if max_pixels is not None:
        set_max_pixels(max_pixels)
    found: list[Problem] = []
    loaded = load_dataset(data, images=images, require_label=False, problems=found, task=task,
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


def format_report(report: DataReport, strict: bool = False) -> str:
    """The report as plain-text tables, every problem grouped by kind, every warning, and
    the status (``strict``: warnings fail)."""
    lines = _counts_table(report)
    if report.intensity:
        lines += _intensity_table(report)
    lines.append(f"\n{report.n_images} images, {report.n_patients} patients")
    if report.task is not None:
        lines.append(f"labels read as the {report.task.describe()} ({report.task.name})")
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
    lines.append(f"warnings: {len(report.warnings)}")
    lines += [f"  {w}" for w in report.warnings]
    lines.append(f"status: {report.status(strict)}")
    return "\n".join(lines)
