"""Typed results of the classification stage: metrics with intervals and paired comparisons.

Each is a frozen dataclass written by :func:`hideseek.jsonio.to_json` in the JSON shape the
``eval.json``, ``audit.json`` and ``comparisons.json`` files have always had, and read back
by :func:`hideseek.jsonio.from_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hideseek.jsonio import OMIT_NONE, REST

__all__ = ["BootstrapInfo", "ClassMetrics", "Comparison", "Discordant", "Estimate",
           "EvalResult", "Metrics", "SourceMetrics"]


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval (``{"value", "ci"}``; None: undefined).

    Attributes:
        ci_bootstrap: The patient-bootstrap interval beside a Wilson ``ci`` (metrics only).
    """

    value: float | None
    ci: tuple[float | None, float | None]
    ci_bootstrap: tuple[float | None, float | None] | None = field(default=None,
                                                                   metadata=OMIT_NONE)


@dataclass(frozen=True)
class ClassMetrics:
    """One class: its support and the one-vs-rest metrics."""

    support: int
    bootstrap_without_class: int
    sensitivity: Estimate
    ppv: Estimate
    specificity: Estimate
    f1: Estimate
    auc: Estimate


@dataclass(frozen=True)
class BootstrapInfo:
    """How many replicates were drawn, and how many lacked a class of the test set."""

    replicates: int
    lacking_a_class: int


@dataclass(frozen=True)
class SourceMetrics:
    """Accuracy on the images of one data source, with their label counts."""

    n: int
    accuracy: Estimate
    labels: dict[str, int]


@dataclass(frozen=True)
class Metrics:
    """Classification metrics of one prediction set (``eval.json``'s core).

    Multi-label (findings): ``per_class`` holds each finding's metrics at the 0.5 threshold
    and its AUC, ``accuracy`` the mean share of an image's known findings right,
    ``balanced_accuracy`` the mean over findings of (sensitivity + specificity) / 2,
    ``confusion_matrix`` one row ``[tp, fn, fp, tn]`` per finding, and ``macro_auc`` the
    architecture's endpoint.
    """

    n: int
    accuracy: Estimate
    balanced_accuracy: Estimate
    bootstrap: BootstrapInfo
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    labels: list[str]
    per_source: dict[str, SourceMetrics] | None = field(default=None, metadata=OMIT_NONE)
    #: Multi-label: the mean of the findings' AUCs, with its patient-bootstrap interval.
    macro_auc: Estimate | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class EvalResult(Metrics):
    """The metrics of one model on one representation (``eval.json``, ``hideseek evaluate
    --json``), with what was tested.

    Attributes:
        extra: Keys of the file that no field reads (kept when a file is read and written).
    """

    representation: str = "data"
    split: str = "test"
    arch: str | None = None
    external: bool = False
    #: The task (``kind``, ``classes``, ``primary``) the labels and outputs belong to.
    task: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class Discordant:
    """Images right in one prediction set only."""

    a_only: int
    b_only: int


@dataclass(frozen=True)
class Comparison:
    """Two prediction sets on the same images (b minus a): McNemar and the paired difference."""

    n: int
    accuracy_a: float
    accuracy_b: float
    accuracy_difference: Estimate
    discordant: Discordant
    mcnemar_p: float
