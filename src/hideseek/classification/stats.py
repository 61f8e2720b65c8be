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

__all__ = ["balanced_accuracy", "classification_metrics", "multilabel_metrics",
           "paired_comparison", "roc_auc", "wilson"]

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


_BLOCK = 1 << 16  # weights per block of replicates in the AUC (fits in cache)
_CLASS_METRICS = ("sensitivity", "ppv", "specificity", "f1", "auc")


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
    """``num / den``: NaN where both are 0 (every ratio here has ``num`` 0 when ``den`` is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(num / den)


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
    cum = np.zeros((min(step, n_boot), len(neg) + 1))
    for r0 in range(0, n_boot, step):
        c = counts[r0:r0 + step]
        rows = cum[:len(c)]
        np.cumsum(np.take(c, neg_patient, axis=1), axis=1, out=rows[:, 1:])
        below = np.take(rows, lo, axis=1)
        if ties:
            below += np.take(rows, hi, axis=1)
            below *= 0.5
        num[r0:r0 + step] = np.einsum("bi,bi->b", np.take(c, pos_patient, axis=1), below)
        neg_total[r0:r0 + step] = rows[:, -1]
    return _ratio(num, pos_total * neg_total)


def _replicates(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None, k: int,
                counts: np.ndarray, patient: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every replicate's metrics from its patient counts, as matrix products.

    One product of the counts with per-patient tallies (true positives, support and predictions
    per class, images) gives every replicate's confusion-matrix margins; the metrics are ratios
    of those, NaN where undefined (0 / 0: e.g. a class absent from the replicate).

    Returns:
        ``support`` (n_boot x K: the images of each class in each replicate) and the metrics
        (n_boot x (2 + 5K)): accuracy, balanced accuracy, then sensitivity, PPV, specificity,
        F1 and AUC of every class (metric by metric, in the order of ``_CLASS_METRICS``).
    """
    n_boot = counts.shape[0]
    cm = _per_patient(patient, y * k + pred, k * k).reshape(-1, k, k)  # patients x K x K
    tallies = np.hstack([np.diagonal(cm, axis1=1, axis2=2), cm.sum(2), cm.sum(1),
                         cm.sum((1, 2))[:, None]])
    r = counts @ tallies
    tp, support, predicted, total = r[:, :k], r[:, k:2 * k], r[:, 2 * k:3 * k], r[:, 3 * k]
    fp, fn = predicted - tp, support - tp
    tn = total[:, None] - support - fp
    present = (support > 0).astype(np.float64)
    ones = np.ones(k)
    out = np.full((n_boot, 2 + 5 * k), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / support
        out[:, 0] = (tp @ ones) / total
        out[:, 1] = (np.where(present > 0, recall, 0.0) @ ones) / (present @ ones)
        out[:, 2:2 + k] = recall
        out[:, 2 + k:2 + 2 * k] = tp / (tp + fp)
        out[:, 2 + 2 * k:2 + 3 * k] = tn / (tn + fp)
        out[:, 2 + 3 * k:2 + 4 * k] = 2 * tp / (2 * tp + fp + fn)
    if prob is not None:
        for c in range(k):
            out[:, 2 + 4 * k + c] = _replicate_auc(prob[:, c], y == c, counts, patient)
    return support, out


def _cis(values: np.ndarray) -> np.ndarray:
    """Percentile intervals (2.5, 97.5) of each column of ``values`` (replicates x columns).

    Non-finite values (undefined replicates) are left out; a column with fewer than 10 finite
    replicates has no interval (NaN). One sort for all columns, then NumPy's default (linear)
    interpolation between order statistics.

    Returns:
        columns x 2: lower and upper bounds.
    """
    v = np.asarray(values, dtype=float)
    v = v[None, :] if v.ndim == 1 else v.T  # columns x replicates
    finite = np.isfinite(v)
    count = finite.sum(1)
    ordered = np.sort(np.where(finite, v, np.inf), axis=1)
    out = np.full((len(v), 2), np.nan)
    ok = np.flatnonzero(count >= 10)
    last = count[ok] - 1
    for j, q in enumerate((0.025, 0.975)):
        at = q * last
        lo = np.floor(at).astype(np.int64)
        below, above = ordered[ok, lo], ordered[ok, np.minimum(lo + 1, last)]
        out[ok, j] = below + (above - below) * (at - lo)
    return out


def _ci(values: np.ndarray) -> tuple[float, float]:
    lo, hi = _cis(values)[0]
    return float(lo), float(hi)


def _f(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _class_metrics(point: dict[Any, Any], boot_cis: dict[str, np.ndarray], without: int,
                   c: int) -> ClassMetrics:
    """Class ``c``'s metrics: Wilson intervals for proportions, the bootstrap for the rest.

    Args:
        point: The metrics on the test set (:func:`_point`).
        boot_cis: Bootstrap intervals per metric (K x 2).
        without: Replicates without an image of class ``c``.
        c: The class.
    """
    tp, fn, fp, tn = point[c]["counts"]
    props = {"sensitivity": (tp, tp + fn), "ppv": (tp, tp + fp), "specificity": (tn, tn + fp)}
    est = {}
    for metric in _CLASS_METRICS:
        lo, hi = boot_cis[metric][c]
        boot_ci = (float(lo), float(hi))
        ci = wilson(*props[metric]) if metric in props else boot_ci
        est[metric] = Estimate(_f(point[c][metric]), ci, boot_ci)
    return ClassMetrics(tp + fn, without, est["sensitivity"], est["ppv"], est["specificity"],
                        est["f1"], est["auc"])


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
    support, boots = _replicates(y, p, None if prob is None else np.asarray(prob, dtype=float),
                                 k, counts, patient)
    correct = int(np.trace(point["cm"]))
    without = support == 0  # replicates x classes
    lacking = int(without[:, point["cm"].sum(1) > 0].any(1).sum())
    cis = _cis(boots)
    acc, bal = (float(cis[0, 0]), float(cis[0, 1])), (float(cis[1, 0]), float(cis[1, 1]))
    boot_cis = {m: cis[2 + i * k: 2 + (i + 1) * k] for i, m in enumerate(_CLASS_METRICS)}
    n_without = without.sum(0)
    return Metrics(
        n=len(y),
        accuracy=Estimate(_f(point["accuracy"]), wilson(correct, len(y)), acc),
        balanced_accuracy=Estimate(_f(point["balanced_accuracy"]), bal, bal),
        bootstrap=BootstrapInfo(len(counts), lacking),
        per_class={name: _class_metrics(point, boot_cis, int(n_without[c]), c)
                   for c, name in enumerate(labels)},
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
    # Per patient: images right in a only (code 0), in both or neither (1), in b only (2).
    per = _per_patient(patient, b.astype(np.int64) - a.astype(np.int64) + 1, 3)
    diffs = _ratio(counts @ (per[:, 2] - per[:, 0]), counts @ per.sum(1))
    return Comparison(len(y), float(a.mean()), float(b.mean()),
                      Estimate(float(b.mean() - a.mean()), _ci(diffs)),
                      Discordant(a_only, b_only), p)


def multilabel_metrics(y_true: np.ndarray, prob: np.ndarray, labels: Sequence[str],
                       groups: Sequence[str] | None = None, n_boot: int = 1000,
                       seed: int = 0) -> Metrics:
    """Per-finding metrics of a multi-label prediction set, with 95% intervals.

    Args:
        y_true: N x K findings: 1 positive, 0 negative, NaN uncertain (left out of that
            finding's metrics).
        prob: N x K finding probabilities; a finding is predicted at >= 0.5.
        labels: The findings (column order).
        groups: Patient id per image: the bootstrap resamples patients (the same draws as
            :func:`classification_metrics`: one matrix of patient counts).
        n_boot: Bootstrap replicates.
        seed: Bootstrap seed.

    Returns:
        :class:`Metrics` (see its multi-label notes): per finding sensitivity / PPV /
        specificity (Wilson), F1 and AUC (patient bootstrap), and the macro AUC.
    """
    y = np.asarray(y_true, dtype=np.float64)
    prob = np.asarray(prob, dtype=np.float64)
    n = len(y)
    known = ~np.isnan(y)
    pos = (y > 0) & known
    pred = prob >= 0.5
    counts, patient = _draw(groups, n, n_boot, seed)
    # row 0: the sample itself (every patient once), then the replicates
    draws = np.vstack([np.ones((1, counts.shape[1])), counts]) if n else counts

    def total(flags: np.ndarray) -> np.ndarray:
        """Per replicate: the weighted number of images with ``flags``."""
        return draws @ np.bincount(patient, weights=flags.astype(np.float64),
                                   minlength=draws.shape[1])

    per: dict[str, ClassMetrics] = {}
    aucs, rows = [], []
    for j, name in enumerate(labels):
        kj, pj, hj = known[:, j], pos[:, j], pred[:, j]
        tp, fn, fp, tn = (int(v.sum()) for v in (pj & hj, pj & ~hj, kj & ~pj & hj,
                                                  kj & ~pj & ~hj))
        rows.append([tp, fn, fp, tn])
        c_tp, c_fn, c_fp = total(pj & hj), total(pj & ~hj), total(kj & ~pj & hj)
        f1 = _ratio(2 * c_tp, 2 * c_tp + c_fp + c_fn)
        auc = _replicate_auc(prob[kj, j], pj[kj], draws, patient[kj])
        aucs.append(auc)
        per[name] = ClassMetrics(
            tp + fn, int((total(pj)[1:] == 0).sum()),
            Estimate(_f(tp / (tp + fn)) if tp + fn else None, wilson(tp, tp + fn)),
            Estimate(_f(tp / (tp + fp)) if tp + fp else None, wilson(tp, tp + fp)),
            Estimate(_f(tn / (tn + fp)) if tn + fp else None, wilson(tn, tn + fp)),
            Estimate(_f(f1[0]), _ci(f1[1:])), Estimate(_f(auc[0]), _ci(auc[1:])))
    stacked = np.vstack(aucs) if aucs else np.full((1, len(draws)), np.nan)
    finite = np.isfinite(stacked)
    macro = _ratio(np.where(finite, stacked, 0.0).sum(0), finite.sum(0).astype(np.float64))
    right = np.where(known, pred == pos, False).sum(1) / np.maximum(known.sum(1), 1)
    acc = _ratio(draws @ np.bincount(patient, weights=right, minlength=draws.shape[1]),
                 total(np.ones(n, dtype=bool)))
    halves = [(r[0] / (r[0] + r[1]) + r[3] / (r[3] + r[2])) / 2 for r in rows
              if r[0] + r[1] and r[3] + r[2]]
    present = [j for j in range(len(labels)) if pos[:, j].any()]
    lacking = int(sum((total(pos[:, j])[1:] == 0 for j in present),
                      np.zeros(len(draws) - 1, dtype=bool)).astype(bool).sum())
    return Metrics(
        n=n, accuracy=Estimate(_f(acc[0]) if n else None, _ci(acc[1:])),
        balanced_accuracy=Estimate(_f(float(np.mean(halves))) if halves else None,
                                   (None, None)),
        bootstrap=BootstrapInfo(len(draws) - 1, lacking), per_class=per,
        confusion_matrix=rows, labels=list(labels),
        macro_auc=Estimate(_f(macro[0]) if n else None, _ci(macro[1:])))
