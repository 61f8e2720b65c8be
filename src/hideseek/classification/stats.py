"""Classification metrics with 95% confidence intervals, and paired comparisons.

Single proportions (accuracy, sensitivity, PPV, specificity) get a Wilson score interval; every
metric also gets a percentile bootstrap interval that resamples *patients* (images of one patient
are not independent). Two prediction sets on the same images are compared with McNemar's exact
test and a paired patient bootstrap of the accuracy difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from hideseek.classification.results import (
    BootstrapInfo,
    ClassMetrics,
    Comparison,
    Discordant,
    Estimate,
    Metrics,
)

__all__ = ["balanced_accuracy", "classification_metrics", "paired_comparison", "roc_auc",
           "wilson"]

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(nan, nan)`` when ``n`` is 0).

    The bounds are clamped so that ``lo <= successes / n <= hi`` even where rounding would put
    a bound a hair inside the estimate (e.g. ``10 / 10``).
    """
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = min(p, max(0.0, float(centre - half)))
    hi = max(p, min(1.0, float(centre + half)))
    return float(lo), float(hi)


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike, k: int | None = None) -> float:
    """Mean recall over the classes present in ``y_true`` (chance is ``1/K`` for any model)."""
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    classes = range(k) if k is not None else np.unique(y)
    recalls = [float((p[y == c] == c).mean()) for c in classes if (y == c).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney), NaN when one class is absent."""
    pos = positive.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = sps.rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _point(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None,
           k: int) -> dict[Any, Any]:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    out: dict[Any, Any] = {"cm": cm, "accuracy": np.trace(cm) / max(1, cm.sum())}
    support = cm.sum(1)
    recalls = np.diag(cm)[support > 0] / support[support > 0]
    out["balanced_accuracy"] = float(recalls.mean()) if recalls.size else np.nan
    for c in range(k):
        tp = cm[c, c]
        fn = cm[c].sum() - tp
        fp = cm[:, c].sum() - tp
        tn = cm.sum() - tp - fn - fp
        sens = tp / (tp + fn) if tp + fn else np.nan
        ppv = tp / (tp + fp) if tp + fp else np.nan
        out[c] = {"sensitivity": sens, "ppv": ppv,
                  "specificity": tn / (tn + fp) if tn + fp else np.nan,
                  "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
                  "auc": roc_auc(prob[:, c], y == c) if prob is not None else np.nan,
                  "counts": (int(tp), int(fn), int(fp), int(tn))}
    return out


def _groups(groups: Sequence[str] | None, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    index: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        index.setdefault(g, []).append(i)
    return [np.array(v) for v in index.values()]


def _bootstrap_indices(units: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(units), size=(n_boot, len(units)))
    return [np.concatenate([units[j] for j in row]) for row in picks]


def _ci(values: list[float]) -> tuple[float, float]:
    arr = np.array([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size < 10:
        return float("nan"), float("nan")
    return float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5))


def _f(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _class_metrics(point: dict[Any, Any], boots: list[dict[Any, Any]], c: int) -> ClassMetrics:
    """Class ``c``'s metrics: Wilson intervals for proportions, the bootstrap for the rest."""
    tp, fn, fp, tn = point[c]["counts"]
    props = {"sensitivity": (tp, tp + fn), "ppv": (tp, tp + fp), "specificity": (tn, tn + fp)}
    est = {}
    for metric in ("sensitivity", "ppv", "specificity", "f1", "auc"):
        boot_ci = _ci([b[c][metric] for b in boots])
        ci = wilson(*props[metric]) if metric in props else boot_ci
        est[metric] = Estimate(_f(point[c][metric]), ci, boot_ci)
    return ClassMetrics(tp + fn, sum(int(b["cm"][c].sum() == 0) for b in boots),
                        est["sensitivity"], est["ppv"], est["specificity"], est["f1"],
                        est["auc"])


def classification_metrics(y_true: ArrayLike, y_pred: ArrayLike,
                           labels: Sequence[str], prob: np.ndarray | None = None,
                           groups: Sequence[str] | None = None, n_boot: int = 1000,
                           seed: int = 0) -> Metrics:
    """Accuracy, per-class sensitivity / PPV / specificity / F1 / AUC with 95% intervals.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        labels: Class names (index order).
        prob: Class probabilities (N x K) for AUC.
        groups: Patient id per image: the bootstrap resamples patients.
        n_boot: Bootstrap replicates.
        seed: Bootstrap seed.

    Returns:
        The metrics; as JSON (:func:`hideseek.jsonio.to_json`) ``{"n", "accuracy": {"value",
        "ci", "ci_bootstrap"}, "balanced_accuracy", "bootstrap": {"replicates",
        "lacking_a_class"}, "per_class": {label: {metric: {...}}}, "confusion_matrix",
        "labels"}``; ``ci`` is Wilson for proportions and the patient bootstrap otherwise.
        Replicates that lack a class leave that class's metrics undefined; they are counted in
        ``lacking_a_class``, not silently dropped.
    """
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y.shape != p.shape:
        raise ValueError("y_true and y_pred differ in length")
    k = len(labels)
    point = _point(y, p, prob, k)
    boots = [_point(y[idx], p[idx], None if prob is None else prob[idx], k)
             for idx in _bootstrap_indices(_groups(groups, len(y)), n_boot, seed)] if len(y) else []
    correct = int(np.trace(point["cm"]))
    present = point["cm"].sum(1) > 0
    lacking = sum(bool((b["cm"].sum(1)[present] == 0).any()) for b in boots)
    bal = _ci([b["balanced_accuracy"] for b in boots])
    return Metrics(
        n=len(y),
        accuracy=Estimate(_f(point["accuracy"]), wilson(correct, len(y)),
                          _ci([b["accuracy"] for b in boots])),
        balanced_accuracy=Estimate(_f(point["balanced_accuracy"]), bal, bal),
        bootstrap=BootstrapInfo(len(boots), lacking),
        per_class={name: _class_metrics(point, boots, c) for c, name in enumerate(labels)},
        confusion_matrix=point["cm"].tolist(), labels=list(labels))


def paired_comparison(y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike,
                      groups: Sequence[str] | None = None, n_boot: int = 1000,
                      seed: int = 0) -> Comparison:
    """Compare two prediction sets on the same images (b minus a).

    Returns:
        As JSON ``{"n", "accuracy_a", "accuracy_b", "accuracy_difference": {"value", "ci"},
        "discordant": {"a_only", "b_only"}, "mcnemar_p"}``: the exact (binomial) McNemar test
        and a paired patient-bootstrap interval of the difference.
    """
    y = np.asarray(y_true)
    a, b = np.asarray(pred_a) == y, np.asarray(pred_b) == y
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    disc = a_only + b_only
    p = 1.0 if disc == 0 else float(sps.binomtest(b_only, disc, 0.5).pvalue)
    diffs = [float(b[idx].mean() - a[idx].mean())
             for idx in _bootstrap_indices(_groups(groups, len(y)), n_boot, seed)]
    return Comparison(len(y), float(a.mean()), float(b.mean()),
                      Estimate(float(b.mean() - a.mean()), _ci(diffs)),
                      Discordant(a_only, b_only), p)
