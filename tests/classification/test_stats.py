"""Metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from hideseek.classification.stats import (
    balanced_accuracy,
    classification_metrics,
    paired_comparison,
    roc_auc,
    wilson,
)

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
