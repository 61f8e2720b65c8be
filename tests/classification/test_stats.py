"""Metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from hideseek.classification.stats import (
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
    assert m["n"] == 200
    assert m["accuracy"]["value"] == pytest.approx(float((y == pred).mean()))
    assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    rec = recall_score(y, pred, average=None)
    prec = precision_score(y, pred, average=None)
    for c, name in enumerate(LABELS):
        assert m["per_class"][name]["sensitivity"]["value"] == pytest.approx(rec[c])
        assert m["per_class"][name]["ppv"]["value"] == pytest.approx(prec[c])
        assert m["per_class"][name]["auc"]["value"] == pytest.approx(
            roc_auc_score(y == c, prob[:, c]))
        lo, hi = m["per_class"][name]["sensitivity"]["ci"]
        assert lo <= rec[c] <= hi
    lo, hi = m["accuracy"]["ci_bootstrap"]
    assert lo < m["accuracy"]["value"] < hi


def test_specificity_by_hand() -> None:
    y = [0, 0, 1, 1, 2, 2]
    p = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y, p, LABELS, n_boot=0)
    # normal: tp 1, fn 1, fp 1, tn 3
    assert m["per_class"]["normal"]["specificity"]["value"] == pytest.approx(3 / 4)
    assert m["per_class"]["normal"]["f1"]["value"] == pytest.approx(2 / 4)


def test_patient_bootstrap_is_wider_for_clustered_images() -> None:
    # 50 patients x 4 identical images: resampling images overstates the sample size.
    y = np.repeat(np.arange(50) % 3, 4)
    p = np.where(np.repeat(np.arange(50) % 5 == 0, 4), (y + 1) % 3, y)
    by_image = classification_metrics(y, p, LABELS, n_boot=500)["accuracy"]["ci_bootstrap"]
    groups = [str(i // 4) for i in range(200)]
    by_patient = classification_metrics(y, p, LABELS, groups=groups,
                                        n_boot=500)["accuracy"]["ci_bootstrap"]
    assert by_patient[1] - by_patient[0] > 1.5 * (by_image[1] - by_image[0])


def test_mcnemar_exact_by_hand() -> None:
    y = np.zeros(20, int)
    a = np.zeros(20, int)
    b = np.zeros(20, int)
    b[:6] = 1  # b wrong where a right: 6 discordant, all one way
    r = paired_comparison(y, a, b, n_boot=200)
    assert r["discordant"] == {"a_only": 6, "b_only": 0}
    assert r["mcnemar_p"] == pytest.approx(2 * 0.5**6)
    assert r["accuracy_difference"]["value"] == pytest.approx(-0.3)
    lo, hi = r["accuracy_difference"]["ci"]
    assert lo < -0.3 < hi < 0
    assert paired_comparison(y, a, a)["mcnemar_p"] == 1.0


def test_auc_degenerate() -> None:
    assert np.isnan(roc_auc(np.array([0.1, 0.2]), np.array([True, True])))
