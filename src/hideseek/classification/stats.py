"""Classification metrics with 95% confidence intervals, and paired comparisons.

Single proportions (accuracy, sensitivity, PPV, specificity) get a Wilson score interval; every
metric also gets a percentile bootstrap interval that resamples *patients* (images of one patient
are not independent). Two prediction sets on the same images are compared with McNemar's exact
test and a paired patient bootstrap of the accuracy difference.

The bootstrap is one draw of patient counts (:func:`hideseek.bootstrap.patient_counts`, the
draws behind :func:`~hideseek.bootstrap.patient_weights`); every replicate's confusion matrix is
a matrix product of those counts with per-patient (true, predicted) tallies, and its AUCs a
weighted Mann-Whitney statistic from cumulative sums in score order. No replicate copies data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from hideseek.bootstrap import patient_counts
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


_BLOCK = 1 << 22  # weights held at once by the AUC (replicates x images), ~32 MiB


def _draw(groups: Sequence[str] | None, n: int, n_boot: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Patient counts per replicate and each image's patient (each image its own without
    ``groups``)."""
    if n == 0:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return patient_counts(np.arange(n) if groups is None else groups, n_boot, seed)


def _per_patient(patient: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """How many images of each patient have each code (patients x ``n_codes``, float)."""
    n_patients = int(patient.max()) + 1 if patient.size else 0
    flat = np.bincount(patient * n_codes + codes, minlength=n_patients * n_codes)
    return flat.reshape(n_patients, n_codes).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _replicate_auc(scores: np.ndarray, positive: np.ndarray, counts: np.ndarray,
                   patient: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC of every replicate (weighted Mann-Whitney, ties count one half).

    The negatives are sorted by score once; per replicate, the cumulative sum of their weights
    in that order gives, for every positive, the weighted number of negatives below it (and
    tied with it, halved). O(n_boot x images) time, memory bounded by blocks of replicates.
    """
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    n_boot = counts.shape[0]
    if len(pos) == 0 or len(neg) == 0:
        return np.full(n_boot, np.nan)
    neg = neg[np.argsort(scores[neg], kind="stable")]
    lo = np.searchsorted(scores[neg], scores[pos], side="left")
    hi = np.searchsorted(scores[neg], scores[pos], side="right")
    ties = not np.array_equal(lo, hi)
    neg_patient, pos_patient = patient[neg], patient[pos]
    pos_total = counts @ np.bincount(pos_patient, minlength=counts.shape[1]).astype(np.float64)
    num, neg_total = np.empty(n_boot), np.empty(n_boot)
    step = max(1, _BLOCK // len(patient))
    for r0 in range(0, n_boot, step):
        c = counts[r0:r0 + step]
        cum = np.zeros((c.shape[0], len(neg) + 1))
        np.cumsum(c[:, neg_patient], axis=1, out=cum[:, 1:])
        below = 0.5 * (cum[:, lo] + cum[:, hi]) if ties else cum[:, lo]
        num[r0:r0 + step] = np.einsum("bi,bi->b", c[:, pos_patient], below)
        neg_total[r0:r0 + step] = cum[:, -1]
    return _ratio(num, pos_total * neg_total)


def _replicates(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None, k: int,
                counts: np.ndarray, patient: np.ndarray) -> dict[str, np.ndarray]:
    """Every replicate's metrics from its patient counts, as matrix products.

    Returns:
        ``cm`` (n_boot x K x K weighted confusion matrices), ``accuracy`` and
        ``balanced_accuracy`` (n_boot), and ``sensitivity``, ``ppv``, ``specificity``, ``f1``,
        ``auc`` (n_boot x K; NaN where undefined in a replicate).
    """
    n_boot = counts.shape[0]
    cm = (counts @ _per_patient(patient, y * k + pred, k * k)).reshape(n_boot, k, k)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(2), cm.sum(1)
    total = support.sum(1)
    fn, fp = support - tp, predicted - tp
    tn = total[:, None] - tp - fn - fp
    recall = _ratio(tp, support)
    bal = _ratio(np.where(support > 0, recall, 0.0).sum(1), (support > 0).sum(1))
    auc = np.full((n_boot, k), np.nan)
    if prob is not None:
        for c in range(k):
            auc[:, c] = _replicate_auc(prob[:, c], y == c, counts, patient)
    return {"cm": cm, "accuracy": _ratio(tp.sum(1), total), "balanced_accuracy": bal,
            "sensitivity": recall, "ppv": _ratio(tp, tp + fp),
            "specificity": _ratio(tn, tn + fp), "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "auc": auc}


def _ci(values: np.ndarray) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size < 10:
        return float("nan"), float("nan")
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return float(lo), float(hi)


def _f(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _class_metrics(point: dict[Any, Any], boots: dict[str, np.ndarray], c: int) -> ClassMetrics:
    """Class ``c``'s metrics: Wilson intervals for proportions, the bootstrap for the rest."""
    tp, fn, fp, tn = point[c]["counts"]
    props = {"sensitivity": (tp, tp + fn), "ppv": (tp, tp + fp), "specificity": (tn, tn + fp)}
    est = {}
    for metric in ("sensitivity", "ppv", "specificity", "f1", "auc"):
        boot_ci = _ci(boots[metric][:, c])
        ci = wilson(*props[metric]) if metric in props else boot_ci
        est[metric] = Estimate(_f(point[c][metric]), ci, boot_ci)
    return ClassMetrics(tp + fn, int((boots["cm"][:, c].sum(1) == 0).sum()),
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
    counts, patient = _draw(groups, len(y), n_boot, seed)
    boots = _replicates(y, p, None if prob is None else np.asarray(prob, dtype=np.float64), k,
                        counts, patient)
    correct = int(np.trace(point["cm"]))
    present = point["cm"].sum(1) > 0
    lacking = int((boots["cm"].sum(2)[:, present] == 0).any(1).sum())
    bal = _ci(boots["balanced_accuracy"])
    return Metrics(
        n=len(y),
        accuracy=Estimate(_f(point["accuracy"]), wilson(correct, len(y)),
                          _ci(boots["accuracy"])),
        balanced_accuracy=Estimate(_f(point["balanced_accuracy"]), bal, bal),
        bootstrap=BootstrapInfo(len(counts), lacking),
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
    counts, patient = _draw(groups, len(y), n_boot, seed)
    # Per patient: images, images right in b minus images right in a.
    per = _per_patient(patient, b.astype(np.int64) - a.astype(np.int64) + 1, 3)
    diffs = _ratio(counts @ (per[:, 2] - per[:, 0]), counts @ per.sum(1))
    return Comparison(len(y), float(a.mean()), float(b.mean()),
                      Estimate(float(b.mean() - a.mean()), _ci(diffs)),
                      Discordant(a_only, b_only), p)
