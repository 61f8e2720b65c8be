"""The verdict rule on synthetic prediction sets with known answers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import LABELS
from synthetic import synthetic_predictions as _preds

from hideseek.errors import DataError
from hideseek.protocol.resample import PatientResampler, weighted_auc
from hideseek.protocol.rule import PredictionSet, VerdictMargins, decide


def test_low_power_drop_is_inconclusive_never_shortcut() -> None:
    # The case: 30 balanced test images, 0.80 -> 0.53 balanced accuracy.
    data = _preds([10, 10, 10], [0.8, 0.8, 0.8], 1)
    hidden = _preds([10, 10, 10], [0.5, 0.6, 0.5], 2)
    v = decide({"data": [data], "lungs_removed": [hidden]})
    assert v.verdict == "inconclusive"
    r = v.hidden["lungs_removed"]
    assert r.retained.lo < 0.25 and r.retained.hi > 0.75  # wide: it settles nothing
    assert r.n_needed is not None and r.n_needed > 30
    assert "would settle it" in v.sentence and "lungs_boxed_out" in v.missing


def test_covidx_shares_simulation_names_the_covid_shortcut() -> None:
    counts = [570, 390, 40]
    data = _preds(counts, [0.9, 0.9, 0.97], 3)
    hidden = _preds(counts, [0.62, 0.62, 0.95], 4)
    v = decide({"data": [data], "lungs_removed": [hidden]})
    assert v.verdict != "uses_lungs"
    assert v.per_class["COVID-19"].verdict == "shortcut"
    assert v.primary == "COVID-19"
    assert "class_specific_shortcut" in v.flags


def test_clear_cases_at_a_large_test_size() -> None:
    counts = [150, 150, 150]
    data = [_preds(counts, [0.95, 0.95, 0.95], s) for s in (1, 2)]
    chance = [_preds(counts, [0.33, 0.34, 0.33], s) for s in (3, 4)]
    same = [_preds(counts, [0.94, 0.95, 0.95], s) for s in (5, 6)]
    half = [_preds(counts, [0.64, 0.64, 0.64], s) for s in (7, 8)]
    assert decide({"data": data, "lungs_removed": chance,
                   "lungs_boxed_out": chance}).verdict == "uses_lungs"
    assert decide({"data": data, "lungs_removed": same,
                   "lungs_boxed_out": same}).verdict == "shortcut"
    assert decide({"data": data, "lungs_removed": half}).verdict == "both"
    v = decide({"data": data, "lungs_removed": same, "lungs_boxed_out": chance})
    assert v.verdict == "inconclusive" and "mask_shape_dependent" in v.flags
    v = decide({"data": chance, "lungs_removed": chance})
    assert v.verdict == "not_learned" and v.seeds == [0, 1]


def test_silhouette_control_flags_shape() -> None:
    counts = [60, 60, 60]
    data = [_preds(counts, [0.95, 0.95, 0.95], 1)]
    hidden = [_preds(counts, [0.9, 0.9, 0.9], 2)]
    sil = [_preds(counts, [0.8, 0.8, 0.8], 3)]
    v = decide({"data": data, "lungs_removed": hidden, "lungs_silhouette": sil})
    assert "silhouette_predicts_class" in v.flags
    assert "lungs_silhouette" not in v.missing
    noise = [_preds(counts, [0.33, 0.34, 0.33], 4)]
    v = decide({"data": data, "lungs_removed": hidden, "lungs_silhouette": noise})
    assert "silhouette_predicts_class" not in v.flags


def test_json_shape_and_margins() -> None:
    counts = [40, 40, 40]
    data = [_preds(counts, [0.9, 0.9, 0.9], 1)]
    hidden = [_preds(counts, [0.35, 0.35, 0.35], 2)]
    j = decide({"data": data, "lungs_removed": hidden}, VerdictMargins(n_boot=500)).to_json()
    assert {"verdict", "sentence", "per_class", "flags", "balanced_accuracy", "n_test",
            "n_patients", "seeds"} <= set(j)
    entry = j["per_class"]["normal"]
    assert set(entry["retained"]["lungs_removed"]) == {"value", "ci"} and entry["verdict"]
    lo, hi = j["balanced_accuracy"]["data"]["ci"]
    assert lo <= j["balanced_accuracy"]["data"]["value"] <= hi
    assert j["n_test"] == 120 and j["n_patients"] == 120
    with pytest.raises(ValueError, match="margins"):
        VerdictMargins(uses_lungs_max=0.8, shortcut_min=0.7)


def test_pairing_errors_are_data_errors() -> None:
    a = _preds([5, 5, 5], [1, 1, 1], 1)
    with pytest.raises(DataError, match="originals"):
        decide({"lungs_removed": [a]})
    b = PredictionSet(tuple(f"other{i}" for i in range(15)), a.patients, a.y, a.prob, LABELS)
    with pytest.raises(DataError, match="share no test image"):
        decide({"data": [a], "lungs_removed": [b]})


def test_bootstrap_keeps_every_class_and_clusters_patients() -> None:
    y = np.repeat(np.arange(3), 20)
    rs = PatientResampler.draw(y, [f"p{i // 4}" for i in range(60)], 2, 300, seed=1)
    for c in range(3):
        assert (rs.weights[:, y == c].sum(1) == 20).all()  # strata keep their size
    # The four images of one patient always carry the same weight.
    assert (rs.weights[:, 0:4] == rs.weights[:, [0]]).all()
    scores = np.linspace(0, 1, 60)
    auc = weighted_auc(scores, y == 2, rs.weights[:1])
    assert auc[0] == pytest.approx(1.0)


def test_combining_the_hidden_versions() -> None:
    from hideseek.protocol.rule import HiddenVerdict, Interval, combine

    def h(v: str, lo: float, hi: float) -> HiddenVerdict:
        return HiddenVerdict(v, Interval((lo + hi) / 2, lo, hi))

    assert combine([h("shortcut", 0.9, 1.1), h("shortcut", 0.8, 1.0)]) == "shortcut"
    # Both show skill outside the lungs; one decisively all of it: shortcut.
    assert combine([h("shortcut", 0.98, 1.03), h("inconclusive", 0.68, 0.83)]) == "shortcut"
    assert combine([h("shortcut", 0.9, 1.1), h("both", 0.4, 0.6)]) == "both"
    assert combine([h("inconclusive", 0.74, 1.4), h("inconclusive", 0.55, 0.84)]) == "inconclusive"
    assert combine([h("shortcut", 0.9, 1.1), h("uses_lungs", -0.1, 0.1)]) == "inconclusive"
    assert combine([h("inconclusive", 0.1, 0.9), h("shortcut", 0.8, 1.0)]) == "inconclusive"
    assert combine([]) == "inconclusive"


def _conv(still: bool) -> dict[str, object]:
    return {"still_improving": still, "reason": "stopped early at epoch 2 while the training "
            "loss still fell 65% over the last 1 epochs" if still else "levelled off"}


def test_an_undertrained_original_model_is_flagged_and_not_called_shortcut() -> None:
    counts = [150, 150, 150]
    half_learned = _preds(counts, [0.8, 0.8, 0.8], 1)  # an original model that stalled
    same = _preds(counts, [0.8, 0.81, 0.8], 2)
    isolated = _preds(counts, [0.99, 0.99, 0.99], 3)  # sees less, scores far more
    preds = {"data": [half_learned], "lungs_removed": [same], "lungs_boxed_out": [same]}
    base = decide(preds)
    assert base.verdict == "shortcut" and "undertrained" not in base.flags
    # stopped while still learning: the record says so
    v = decide(preds, convergence={"data": [_conv(True)], "lungs_removed": [_conv(False)]})
    assert v.verdict == "inconclusive" and "undertrained" in v.flags
    assert "undertrained: data (seed 0) stopped early" in v.sentence
    assert v.to_json()["undertrained"] and "retained skill is biased" in v.sentence
    # beaten by a version that holds less information, beyond the paired interval
    v = decide({**preds, "lungs_isolated": [isolated]})
    assert v.verdict == "inconclusive" and "undertrained" in v.flags
    assert "the lungs_isolated model beats the originals' model" in v.sentence


def test_an_undertrained_hidden_model_cannot_make_uses_lungs() -> None:
    counts = [150, 150, 150]
    data = _preds(counts, [0.95, 0.95, 0.95], 1)
    chance = _preds(counts, [0.33, 0.34, 0.33], 2)
    preds = {"data": [data], "lungs_removed": [chance], "lungs_boxed_out": [chance]}
    assert decide(preds).verdict == "uses_lungs"
    v = decide(preds, convergence={"data": [_conv(False)], "lungs_removed": [_conv(True)]})
    assert v.verdict == "inconclusive" and "undertrained" in v.flags
    # a converged set of models keeps its verdict and carries no flag
    ok = decide(preds, convergence={r: [_conv(False)] for r in preds})
    assert ok.verdict == "uses_lungs" and "undertrained" not in ok.flags



def test_an_undefined_interval_reads_as_such() -> None:
    from hideseek.protocol.rule import Interval

    assert str(Interval(float("nan"), float("-inf"), float("inf"))) == "undefined"
    assert str(Interval(0.5, 0.25, 0.75)) == "0.50 [0.25, 0.75]"
