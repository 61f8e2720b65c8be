"""Metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

import hideseek.bootstrap
from hideseek.bootstrap import patient_weights
from hideseek.classification import stats
from hideseek.classification.stats import (
    balanced_accuracy,
    classification_metrics,
    paired_comparison,
    roc_auc,
    wilson,
)
from hideseek.jsonio import to_json

LABELS = ["normal", "pneumonia", "COVID-19"]


def test_wilson_known_values() -> None:
    lo, hi = wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-4) and hi == pytest.approx(0.9448, abs=1e-4)
    assert wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson(10, 10)[1] == pytest.approx(1.0)


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    prob = rng.dirichlet(np.ones(3), 200)
    prob[np.arange(200), pred] += 1
    prob /= prob.sum(1, keepdims=True)
    m = classification_metrics(y, pred, LABELS, prob, n_boot=200)
    assert m.n == 200
    assert m.accuracy.value == pytest.approx(float((y == pred).mean()))
    assert m.confusion_matrix == confusion_matrix(y, pred).tolist()
    rec = recall_score(y, pred, average=None)
    prec = precision_score(y, pred, average=None)
    for c, name in enumerate(LABELS):
        assert m.per_class[name].sensitivity.value == pytest.approx(rec[c])
        assert m.per_class[name].ppv.value == pytest.approx(prec[c])
        assert m.per_class[name].auc.value == pytest.approx(
            roc_auc_score(y == c, prob[:, c]))
        lo, hi = m.per_class[name].sensitivity.ci
        assert lo <= rec[c] <= hi
    lo, hi = m.accuracy.ci_bootstrap
    assert lo < m.accuracy.value < hi


def test_specificity_by_hand() -> None:
    y = [0, 0, 1, 1, 2, 2]
    p = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y, p, LABELS, n_boot=0)
    # normal: tp 1, fn 1, fp 1, tn 3
    assert m.per_class["normal"].specificity.value == pytest.approx(3 / 4)
    assert m.per_class["normal"].f1.value == pytest.approx(2 / 4)


def test_patient_bootstrap_is_wider_for_clustered_images() -> None:
    # 50 patients x 4 identical images: resampling images overstates the sample size.
    y = np.repeat(np.arange(50) % 3, 4)
    p = np.where(np.repeat(np.arange(50) % 5 == 0, 4), (y + 1) % 3, y)
    by_image = classification_metrics(y, p, LABELS, n_boot=500).accuracy.ci_bootstrap
    groups = [str(i // 4) for i in range(200)]
    by_patient = classification_metrics(y, p, LABELS, groups=groups,
                                        n_boot=500).accuracy.ci_bootstrap
    assert by_patient[1] - by_patient[0] > 1.5 * (by_image[1] - by_image[0])


def test_mcnemar_exact_by_hand() -> None:
    y = np.zeros(20, int)
    a = np.zeros(20, int)
    b = np.zeros(20, int)
    b[:6] = 1  # b wrong where a right: 6 discordant, all one way
    r = paired_comparison(y, a, b, n_boot=200)
    assert (r.discordant.a_only, r.discordant.b_only) == (6, 0)
    assert r.mcnemar_p == pytest.approx(2 * 0.5**6)
    assert r.accuracy_difference.value == pytest.approx(-0.3)
    lo, hi = r.accuracy_difference.ci
    assert lo < -0.3 < hi < 0
    assert paired_comparison(y, a, a).mcnemar_p == 1.0


def test_auc_degenerate() -> None:
    assert np.isnan(roc_auc(np.array([0.1, 0.2]), np.array([True, True])))


def test_wilson_contains_its_estimate() -> None:
    for n in (1, 7, 10, 30, 101, 1000):
        for k in range(n + 1):
            lo, hi = wilson(k, n)
            assert lo <= k / n <= hi, (k, n)
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0


def test_balanced_accuracy_chance_is_one_over_k() -> None:
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    assert balanced_accuracy(y, np.zeros(100, int)) == pytest.approx(1 / 3)  # majority guess
    assert balanced_accuracy(y, y) == 1.0
    m = classification_metrics(y, np.zeros(100, int), LABELS, n_boot=100)
    assert m.balanced_accuracy.value == pytest.approx(1 / 3)
    assert m.accuracy.value == pytest.approx(0.8)


def test_bootstrap_counts_resamples_that_lack_a_class() -> None:
    # One COVID-19 image among 20: many patient resamples miss it, and that is reported.
    y = np.array([0] * 10 + [1] * 9 + [2])
    m = classification_metrics(y, y, LABELS, groups=[str(i) for i in range(20)], n_boot=400)
    lacking = m.bootstrap.lacking_a_class
    assert m.bootstrap.replicates == 400
    assert 0.25 * 400 < lacking < 0.5 * 400  # (19/20)^20 = 0.36 of the resamples
    assert m.per_class["COVID-19"].bootstrap_without_class == lacking
    assert m.per_class["normal"].bootstrap_without_class == 0


# --- The weight-matrix bootstrap against the old per-replicate loop --------------------------


def _old_point(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None, k: int) -> dict:
    """One replicate, computed on its copied images (the loop the bootstrap used to run)."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    support = cm.sum(1)
    recalls = np.diag(cm)[support > 0] / support[support > 0]
    out: dict = {"cm": cm, "accuracy": np.trace(cm) / max(1, cm.sum()),
                 "balanced_accuracy": float(recalls.mean()) if recalls.size else np.nan}
    for c in range(k):
        tp = cm[c, c]
        fn, fp = cm[c].sum() - tp, cm[:, c].sum() - tp
        tn = cm.sum() - tp - fn - fp
        out[c] = {"sensitivity": tp / (tp + fn) if tp + fn else np.nan,
                  "ppv": tp / (tp + fp) if tp + fp else np.nan,
                  "specificity": tn / (tn + fp) if tn + fp else np.nan,
                  "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
                  "auc": roc_auc(prob[:, c], y == c) if prob is not None else np.nan}
    return out


def _old_ci(values: list[float]) -> tuple[float, float]:
    arr = np.array([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size < 10:
        return float("nan"), float("nan")
    return float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5))


def _close(got: Any, want: Any) -> bool:
    g = np.array([np.nan if v is None else v for v in got], dtype=float)
    return bool(np.allclose(g, np.array(want, dtype=float), rtol=0, atol=1e-9, equal_nan=True))


def _data(n: int, seed: int, decimals: int | None) -> tuple[np.ndarray, ...]:
    """Three classes (the third rare), ~2 images per patient, probabilities favouring the
    prediction; rounded probabilities tie positives with negatives."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.55, 0.4, 0.05])
    pred = np.where(rng.random(n) < 0.75, y, rng.integers(0, 3, n))
    prob = rng.dirichlet(np.ones(3), n)
    prob[np.arange(n), pred] += 1.0
    prob /= prob.sum(1, keepdims=True)
    if decimals is not None:
        prob = np.round(prob, decimals)
    groups = np.array([f"p{i}" for i in np.sort(rng.integers(0, n // 2, n))])
    return y, pred, prob, groups


@pytest.mark.parametrize(("decimals", "grouped", "block"),
                         [(1, True, None), (None, True, None), (2, False, None), (1, True, 700)])
def test_bootstrap_matches_the_per_replicate_loop_on_the_same_draws(
        decimals: int | None, grouped: bool, block: int | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if block is not None:  # the AUC and the draw in blocks of a few replicates
        monkeypatch.setattr(stats, "_BLOCK", block)
        monkeypatch.setattr(hideseek.bootstrap, "_BLOCK", block)
    y, pred, prob, groups = _data(90, 3, decimals)
    n_boot, seed = 300, 7
    ids = groups if grouped else np.arange(len(y))
    weights = patient_weights(ids, n_boot, seed)
    boots = [_old_point(y[idx], pred[idx], prob[idx], 3)
             for idx in (np.repeat(np.arange(len(y)), w.astype(int)) for w in weights)]
    m = classification_metrics(y, pred, LABELS, prob, groups=list(groups) if grouped else None,
                               n_boot=n_boot, seed=seed)
    assert _close(m.accuracy.ci_bootstrap, _old_ci([b["accuracy"] for b in boots]))
    assert _close(m.balanced_accuracy.ci, _old_ci([b["balanced_accuracy"] for b in boots]))
    for c, name in enumerate(LABELS):
        cls = m.per_class[name]
        for metric in ("sensitivity", "ppv", "specificity", "f1", "auc"):
            want = _old_ci([b[c][metric] for b in boots])
            assert _close(getattr(cls, metric).ci_bootstrap, want), (name, metric)
        assert cls.bootstrap_without_class == sum(int(b["cm"][c].sum() == 0) for b in boots)
    assert m.bootstrap.lacking_a_class == sum(bool((b["cm"].sum(1) == 0).any()) for b in boots)
    assert m.bootstrap.lacking_a_class > 0  # the rare class is missed by some replicates

    pred_b = np.where(np.random.default_rng(5).random(len(y)) < 0.3, y, pred)
    r = paired_comparison(y, pred, pred_b, groups=list(groups) if grouped else None,
                          n_boot=n_boot, seed=seed)
    idxs = [np.repeat(np.arange(len(y)), w.astype(int)) for w in weights]
    diffs = [float((pred_b[i] == y[i]).mean() - (pred[i] == y[i]).mean()) for i in idxs]
    assert _close(r.accuracy_difference.ci, _old_ci(diffs))


def test_auc_interval_resamples_patients_not_images() -> None:
    # 60 patients x 4 identical images: the interval is that of the 60 patients exactly, and
    # far wider than 240 independent images would give.
    y1, pred1, prob1, _ = _data(60, 11, None)
    y, pred, prob = np.repeat(y1, 4), np.repeat(pred1, 4), np.repeat(prob1, 4, axis=0)
    patients = [f"p{i:02d}" for i in range(60)]
    one = classification_metrics(y1, pred1, LABELS, prob1, groups=patients, n_boot=500)
    clustered = classification_metrics(y, pred, LABELS, prob, groups=np.repeat(patients, 4),
                                       n_boot=500)
    by_image = classification_metrics(y, pred, LABELS, prob, n_boot=500)
    for name in ("normal", "pneumonia"):
        got = clustered.per_class[name].auc.ci
        assert _close(got, one.per_class[name].auc.ci)
        naive = by_image.per_class[name].auc.ci
        assert got[1] - got[0] > 1.5 * (naive[1] - naive[0])
    assert _close(clustered.accuracy.ci_bootstrap, one.accuracy.ci_bootstrap)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    y, pred, prob, groups = _data(120, 2, None)
    first = classification_metrics(y, pred, LABELS, prob, groups=list(groups), seed=3)
    again = classification_metrics(y, pred, LABELS, prob, groups=list(groups), seed=3)
    other = classification_metrics(y, pred, LABELS, prob, groups=list(groups), seed=4)
    assert to_json(first) == to_json(again)
    assert to_json(first) != to_json(other)
    pa = paired_comparison(y, pred, y, groups=list(groups), seed=3)
    assert pa == paired_comparison(y, pred, y, groups=list(groups), seed=3)


def test_a_class_missing_from_replicates_or_from_the_test_set() -> None:
    # Two COVID-19 patients among 30: replicates without them leave its metrics undefined
    # (excluded from its intervals); a class absent from the test set is never counted as
    # lacking and has no interval at all.
    y = np.array([0] * 14 + [1] * 14 + [2, 2])
    pred = y.copy()
    pred[[0, 15]] = [1, 0]
    prob = np.full((30, 4), 0.1)
    prob[np.arange(30), pred] = 0.7
    labels = [*LABELS, "other"]
    m = classification_metrics(y, pred, labels, prob, groups=[str(i) for i in range(30)],
                               n_boot=400, seed=1)
    covid = m.per_class["COVID-19"]
    assert 0.05 * 400 < covid.bootstrap_without_class < 0.25 * 400  # (28/30)^30 = 0.13
    assert m.bootstrap.lacking_a_class == covid.bootstrap_without_class
    assert covid.sensitivity.ci_bootstrap == (1.0, 1.0)
    assert covid.auc.ci_bootstrap == (1.0, 1.0)
    other = m.per_class["other"]
    assert other.support == 0 and other.bootstrap_without_class == 400
    assert other.sensitivity.value is None and other.auc.ci_bootstrap is not None
    assert all(np.isnan(v) for v in other.auc.ci_bootstrap)
    assert all(np.isnan(v) for v in other.f1.ci_bootstrap)
