"""The audit with matched controls: the region, the paired statistics, the rule, known answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hideseek.classification.audit import ControlRegion, control_region, hides_lungs
from hideseek.classification.audit_stats import (
    audit_effects,
    audit_verdict,
    patient_weights,
)


@dataclass
class _P:
    y: np.ndarray
    pred: np.ndarray
    prob: np.ndarray


def _preds(y: np.ndarray, pred: np.ndarray) -> _P:
    prob = np.full((len(y), 3), 0.05)
    prob[np.arange(len(y)), pred] = 0.9
    return _P(y, pred, prob)


def _image_and_mask() -> tuple[np.ndarray, np.ndarray]:
    image = np.zeros((64, 64), np.float32)
    image[8:64, 8:56] = 0.6  # "body", on the 8-pixel block grid
    mask = np.zeros((64, 64), bool)
    mask[12:40, 12:28] = True
    mask[12:40, 36:52] = True
    image[mask] = 0.45
    return image, mask


def test_hides_lungs_names_the_hiding_representations() -> None:
    assert hides_lungs("lungs_removed") and hides_lungs("lungs_boxed_out")
    assert not hides_lungs("data") and not hides_lungs("lungs_isolated")
    assert not hides_lungs("lungs_framed") and not hides_lungs("no_such_representation")


def test_control_region_matches_the_area_and_avoids_the_hidden_region() -> None:
    image, mask = _image_and_mask()
    region = control_region(image, mask, seed=0)
    assert not (region & mask).any()
    assert abs(int(region.sum()) - int(mask.sum())) <= 8 * 8
    # Intensity-matched: the control lies on the body (0.6), not the empty background (0.0),
    # because the body is closer to the lungs' 0.45.
    assert image[region].mean() > 0.5


def test_control_transform_is_reproducible_and_keeps_the_lungs() -> None:
    image, mask = _image_and_mask()
    ctrl = ControlRegion("lungs_removed", "zero")
    a, b = ctrl(image, mask), ctrl(image, mask)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[mask], image[mask])  # the lungs stay visible
    assert (a != image).sum() > 0.5 * mask.sum()  # an area like the lungs' is hidden


def test_patient_weights_resample_patients_not_images() -> None:
    groups = ["a", "a", "b", "b", "c", "c"]
    w = patient_weights(groups, 200, seed=0)
    assert w.shape == (200, 6)
    np.testing.assert_array_equal(w[:, 0], w[:, 1])  # one patient's images move together
    assert (w.sum(1) == 6).all()


def _scenario(hidden_right: bool, control_right: bool, n: int = 90) -> tuple[_P, dict, list]:
    """A perfect model; with the lungs hidden it keeps its answers or guesses one class; the
    control keeps or loses them likewise."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), n // 3)
    base = _preds(y, y)
    guess = np.zeros_like(y)  # collapses to one class: chance balanced accuracy
    hidden = _preds(y, y if hidden_right else guess)
    control = _preds(y, y if control_right else guess)
    groups = [f"p{i // 2}" for i in rng.permutation(n)]
    e = audit_effects(base, hidden, control, groups, n_boot=300, n_decisions=2)
    return base, {"lungs_removed": e}, groups


def test_effects_are_paired_drops_with_intervals() -> None:
    _, effects, _ = _scenario(hidden_right=False, control_right=True)
    e = effects["lungs_removed"]
    assert e.drop.value == pytest.approx(2 / 3) and e.control_drop.value == pytest.approx(0.0)
    assert e.net_drop.value == pytest.approx(2 / 3)
    assert e.net_drop.ci[0] is not None and e.net_drop.ci[0] > 0.5
    assert e.prob_net_drop.value == pytest.approx(0.9 - 1 / 3)  # collapsed: (0.9 + 2 * 0.05) / 3


@pytest.mark.parametrize(("hidden_right", "control_right", "verdict"), [
    (False, True, "relies_on_lungs"),  # only hiding the lungs hurts
    (True, True, "relies_outside"),  # nothing hurts: the evidence is elsewhere
    (False, False, "inconclusive"),  # hiding anything hurts equally: shift, not reliance
])
def test_verdict_rule(hidden_right: bool, control_right: bool, verdict: str) -> None:
    base, effects, groups = _scenario(hidden_right, control_right)
    assert audit_verdict(base, effects, groups, n_boot=300).verdict == verdict


def test_verdict_both_and_not_learned() -> None:
    y = np.repeat(np.arange(3), 30)
    base = _preds(y, y)
    half = y.copy()
    half[::2] = 0  # loses about half its skill, stays well above chance
    groups = [f"p{i}" for i in range(90)]
    e = audit_effects(base, _preds(y, half), base, groups, n_boot=300, n_decisions=2)
    assert audit_verdict(base, {"lungs_removed": e}, groups, n_boot=300).verdict == "both"
    blind = _preds(y, np.zeros_like(y))
    e = audit_effects(blind, blind, blind, groups, n_boot=300, n_decisions=2)
    d = audit_verdict(blind, {"lungs_removed": e}, groups, n_boot=300)
    assert d.verdict == "inconclusive" and "chance" in d.reason
    assert audit_verdict(base, {}, groups, n_boot=50).verdict == "inconclusive"


def test_audit_still_importable_from_evaluate() -> None:
    from hideseek.classification import audit as from_package
    from hideseek.classification.audit import audit as from_module
    from hideseek.classification.evaluate import audit as from_evaluate

    assert from_package is from_module is from_evaluate


@pytest.mark.slow
def test_audit_separates_a_shortcut_model_from_a_lungs_model(tmp_path: Path) -> None:
    from hideseek.classification import load_train_config, train_classifier
    from hideseek.cli.main import main
    from hideseek.data import PhantomConfig, load_dataset, write_phantom_dataset

    found = {}
    for scenario, seed in (("shortcut", 2), ("lungs", 1)):
        root = tmp_path / scenario
        write_phantom_dataset(root, PhantomConfig(scenario=scenario, n=300, size=64, seed=seed))
        cfg = load_train_config(arch="resnet18", epochs=8, image_size=64, batch_size=16,
                                lr=1e-3, pretrained=False, crop_top=0.0)
        cfg.augment.enabled = False
        train_classifier(load_dataset(root), tmp_path / f"m_{scenario}", cfg,
                         masks_dir=root / "masks", cache_dir=tmp_path / "c")
        js = tmp_path / f"{scenario}.json"
        assert main(["audit", "--model", str(tmp_path / f"m_{scenario}"), "--data", str(root),
                     "--masks", str(root / "masks"), "--json", str(js), "--n-boot", "400"]) == 0
        found[scenario] = json.loads(js.read_text())
    short, lungs = found["shortcut"], found["lungs"]
    assert {"representations", "vs_data", "audit_verdict"} <= set(short)
    for rep in ("lungs_removed", "lungs_boxed_out"):
        for key in ("control_drop", "net_drop"):
            assert set(short["vs_data"][rep][key]) == {"value", "ci"}
        # The lungs carry the answer: hiding them costs most of the model's skill above chance
        # (the whole of it in practice), more than hiding an equal area elsewhere.
        skill = lungs["representations"]["data"]["balanced_accuracy"]["value"] - 1 / 3
        assert skill > 0.25
        assert lungs["vs_data"][rep]["drop"]["value"] > 0.6 * skill
        assert short["vs_data"][rep]["net_drop"]["value"] < 0.1  # the shift, cancelled
    assert lungs["vs_data"]["lungs_removed"]["net_drop"]["ci"][0] > 0
    assert short["audit_verdict"] == "relies_outside"
    assert lungs["audit_verdict"] == "relies_on_lungs"


def test_unknown_fill_is_a_hideseek_error(tmp_path: Path) -> None:
    from hideseek.classification.audit import audit
    from hideseek.errors import HideseekError

    with pytest.raises(HideseekError, match="unknown fill 'sparkle'"):
        audit(tmp_path / "no_model", None, tmp_path, fill="sparkle")  # type: ignore[arg-type]
