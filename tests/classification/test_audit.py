"""The audit with matched controls: the region, the paired statistics, the rule, known answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hideseek.classification.audit import (
    ControlRegion,
    control_region,
    disturbance,
    hides_lungs,
    hides_mask_only,
)
from hideseek.classification.audit_stats import (
    HiddenCheck,
    audit_effects,
    audit_verdict,
    patient_weights,
)
from hideseek.representations.builtin import SURROUND
from hideseek.representations.masks import perturb_mask
from hideseek.representations.transforms import visible_region


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
    assert hides_mask_only("lungs_removed") and not hides_mask_only("lungs_boxed_out")


def test_control_region_matches_the_area_and_avoids_the_hidden_region() -> None:
    image, mask = _image_and_mask()
    region = control_region(image, mask, seed=0)
    assert not (region & mask).any()
    assert abs(int(region.sum()) - int(mask.sum())) <= 8 * 8
    # Disturbance-matched (with a zero fill: the brightness): the control lies on the body
    # (0.6), not the empty background (0.0), because zeroing the body changes it as much as
    # zeroing the lungs' 0.45 does.
    assert image[region].mean() > 0.5


def test_control_matches_the_change_the_fill_makes_not_the_brightness() -> None:
    # Dark lungs (0.15) in a bright body (0.6) over air (0.05). Zeroing the lungs changes them
    # by 0.15, and no block outside changes that little but air (0.05) or that much but body
    # (0.6): a zero fill's control cannot match (the audit then does not read its net drop).
    # An imputing fill fills the lungs from the bright body around them (a change of about
    # 0.45) and the matched control changes the image about as much.
    image = np.full((64, 64), 0.05, np.float32)
    image[8:64, 8:56] = 0.6
    mask = np.zeros((64, 64), bool)
    mask[16:40, 16:28] = True
    mask[16:40, 36:48] = True
    image[mask] = 0.15

    def ratio(fill: str) -> float:
        region = control_region(image, mask, seed=0, fill=fill)
        assert abs(int(region.sum()) - int(mask.sum())) <= 64
        return disturbance(image, region, fill) / disturbance(image, mask, fill)

    assert ratio("zero") < 0.4  # unmatched: the check reads nothing from it
    for fill in ("linear", "texture", "blur"):
        assert 0.7 < ratio(fill) < 1.3, fill


def test_mask_perturbation_grows_and_shrinks_by_a_share_of_the_lung_width() -> None:
    _, mask = _image_and_mask()
    grown, shrunk = perturb_mask(mask, 0.1), perturb_mask(mask, -0.1)
    assert (grown >= mask).all() and (shrunk <= mask).all()
    assert grown.sum() > mask.sum() > shrunk.sum()
    assert np.array_equal(perturb_mask(mask, 0.0), mask)


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


def test_lung_reliance_is_read_on_the_mask_and_only_where_the_check_allows() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    base = _preds(y, y)
    groups = [f"p{i // 2}" for i in rng.permutation(90)]
    lost = audit_effects(base, _preds(y, np.zeros_like(y)), base, groups, n_boot=300,
                         n_decisions=4)
    kept = audit_effects(base, base, base, groups, n_boot=300, n_decisions=4)
    # only hiding the lung boxes hurts (the mask alone does not): reliance on the region
    # around the lungs, flagged; the model keeps its skill without the lung mask
    d = audit_verdict(base, {"lungs_removed": kept, "lungs_boxed_out": lost}, groups,
                      n_boot=300)
    assert d.verdict == "relies_outside" and "region_around_lungs" in d.flags
    # a detectable fill: its effect is not read as reliance
    check = {"lungs_removed": HiddenCheck(False, "fill_detectable", "the zero fill is "
                                          "detectable")}
    d = audit_verdict(base, {"lungs_removed": lost}, groups, n_boot=300, checks=check)
    assert d.verdict == "inconclusive" and "fill_detectable" in d.flags
    assert "cannot be read" in d.reason and d.notes == ["the zero fill is detectable"]
    assert audit_verdict(base, {"lungs_removed": lost}, groups,
                         n_boot=300).verdict == "relies_on_lungs"


def test_evidence_next_to_the_lungs_is_read_on_the_surround_control() -> None:
    # Hiding the lungs costs the model its skill, and so does showing the lungs alone (the
    # model reads a tag beside the lungs against them): lung_context, not lung reliance.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    base = _preds(y, y)
    blind = _preds(y, np.zeros_like(y))
    groups = [f"p{i // 2}" for i in rng.permutation(90)]
    lost = audit_effects(base, blind, base, groups, n_boot=300, n_decisions=5)
    kept = audit_effects(base, base, base, groups, n_boot=300, n_decisions=5)
    effects = {"lungs_removed": lost, "lungs_boxed_out": lost}
    alone = {"lungs_isolated": blind}
    surround = frozenset({SURROUND})
    # the surround control unread, or hiding the surround costs nothing: inconclusive
    d = audit_verdict(base, effects, groups, n_boot=300, lungs_alone=alone)
    assert d.verdict == "inconclusive" and "lung_context" in d.flags
    d = audit_verdict(base, {**effects, SURROUND: kept}, groups, n_boot=300, lungs_alone=alone,
                      surround_reps=surround)
    assert d.verdict == "inconclusive"
    # hiding the surround, the lungs kept, costs the model its skill: its evidence is there
    d = audit_verdict(base, {**effects, SURROUND: lost}, groups, n_boot=300, lungs_alone=alone,
                      surround_reps=surround)
    assert d.verdict == "relies_outside" and d.outside_used == [SURROUND]
    assert {"region_around_lungs", "lung_context"} <= set(d.flags)
    # ... but not when its fill is detectable
    check = {SURROUND: HiddenCheck(False, "fill_detectable", "detectable")}
    d = audit_verdict(base, {**effects, SURROUND: lost}, groups, n_boot=300, lungs_alone=alone,
                      surround_reps=surround, checks=check)
    assert d.verdict == "inconclusive"
    # hiding the mask hurts no more than its control (both leave the model at chance) but
    # hiding the surround, the lungs kept, does: relies_outside too, with the region flag
    shifted = audit_effects(base, blind, blind, groups, n_boot=300, n_decisions=5)
    found = {"lungs_removed": shifted, "lungs_boxed_out": lost}
    d = audit_verdict(base, found, groups, n_boot=300, lungs_alone=alone)
    assert d.verdict == "inconclusive"
    d = audit_verdict(base, {**found, SURROUND: lost}, groups, n_boot=300, lungs_alone=alone,
                      surround_reps=surround)
    assert d.verdict == "relies_outside" and "region_around_lungs" in d.flags
    # a model reading the lungs (skill on the lungs alone) is never moved by the surround
    d = audit_verdict(base, {**effects, SURROUND: lost}, groups, n_boot=300,
                      lungs_alone={"lungs_isolated": base}, surround_reps=surround)
    assert d.verdict == "relies_on_lungs" and SURROUND not in d.outside_used


def test_some_skill_on_the_lungs_alone_keeps_lung_reliance() -> None:
    # A lung reader whose lungs-alone images are far from what it was trained on keeps some
    # skill on them: above chance (0.33) at its lower bound, though under chance + the margin.
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 200)
    base = _preds(y, y)
    groups = [f"p{i // 2}" for i in rng.permutation(len(y))]
    lost = audit_effects(base, _preds(y, np.zeros_like(y)), base, groups, n_boot=300,
                         n_decisions=5)
    some = np.where(rng.random(len(y)) < 0.45, y, (y + 1) % 3)  # balanced accuracy ~0.45
    d = audit_verdict(base, {"lungs_removed": lost}, groups, n_boot=300,
                      lungs_alone={"lungs_isolated": _preds(y, some)})
    assert d.verdict == "relies_on_lungs" and "lung_context" not in d.flags
    d = audit_verdict(base, {"lungs_removed": lost}, groups, n_boot=300,
                      lungs_alone={"lungs_isolated": _preds(y, np.zeros_like(y))})
    assert d.verdict == "inconclusive" and "lung_context" in d.flags


def test_the_surround_control_hides_the_boxes_but_not_the_lungs() -> None:
    yy, xx = np.mgrid[:64, :64]
    mask = (((yy - 30) / 16) ** 2 + ((xx - 18) / 9) ** 2 <= 1) | (
        ((yy - 30) / 16) ** 2 + ((xx - 44) / 9) ** 2 <= 1)
    keep = visible_region(SURROUND, mask)
    boxes = ~visible_region("lungs_boxed_out", mask)
    assert keep[mask].all() and keep[~boxes].all()
    assert (boxes & ~mask).sum() > 0.1 * mask.sum() and not keep[boxes & ~mask].any()
    assert not hides_lungs(SURROUND) and not hides_mask_only(SURROUND)


def test_a_surround_too_thin_to_probe_is_judged_by_the_boxes_probe() -> None:
    from hideseek.classification.audit import _surround_probe
    from hideseek.representations.detectability import Detectability

    hidden = ["lungs_removed", "lungs_boxed_out", SURROUND]
    boxes = Detectability(0.81, (0.72, 0.9), 40, 240, 5, True)
    found = {"lungs_removed": Detectability(0.6, (0.5, 0.7), 40, 240, 5, False),
             "lungs_boxed_out": boxes,
             SURROUND: Detectability(None, (None, None), 0, 0, 5, False)}
    assert _surround_probe(found, hidden) == "lungs_boxed_out"
    assert found[SURROUND] is boxes  # the detectable boxes fill withholds the surround's reading
    assert _surround_probe(found, hidden) is None  # measured now: nothing to stand in for


def test_audit_and_evaluate_do_not_import_each_other() -> None:
    import ast
    import importlib
    import inspect

    audit_module = importlib.import_module("hideseek.classification.audit")
    evaluate_module = importlib.import_module("hideseek.classification.evaluate")

    tree = ast.parse(inspect.getsource(evaluate_module))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "hideseek.classification.audit" not in imported  # one direction only
    assert not hasattr(evaluate_module, "audit")
    assert audit_module.audit.__module__ == "hideseek.classification.audit"


def test_unknown_fill_is_a_hideseek_error(tmp_path: Path) -> None:
    from hideseek.classification.audit import audit
    from hideseek.errors import HideseekError

    with pytest.raises(HideseekError, match="unknown fill 'sparkle'; choose from"):
        audit(tmp_path / "no_model", None, tmp_path, fill="sparkle")  # type: ignore[arg-type]


def test_every_finding_gets_a_verdict_with_a_reason() -> None:
    """Multi-label: each finding is judged on its own AUC, also when the macro AUC does not
    clear chance; one whose AUC cannot be estimated is ``inconclusive`` with the reason (null
    drops, no NaN)."""
    rng = np.random.default_rng(0)
    n, findings = 80, ["seen", "blind", "absent"]
    y = np.zeros((n, 3))
    y[:, 0] = np.arange(n) % 2
    y[:, 1] = rng.integers(0, 2, n)  # "absent": no positive image
    prob = np.column_stack([0.1 + 0.8 * y[:, 0], rng.random(n), rng.random(n)])
    base = _P(y, (prob > 0.5).astype(int), prob)
    lost = prob.copy()
    lost[:, 0] = rng.random(n)  # hiding the lungs loses "seen"; the control loses nothing
    hidden = _P(y, (lost > 0.5).astype(int), lost)
    groups = [f"p{i}" for i in range(n)]
    e = audit_effects(base, hidden, base, groups, n_boot=300, n_decisions=2, findings=findings)
    d = audit_verdict(base, {"lungs_removed": e}, groups, n_boot=300, findings=findings)
    why = d.per_finding_reasons
    assert set(d.per_finding) == set(why) == set(findings) and all(why.values())
    assert d.per_finding["seen"] == "relies_on_lungs"
    assert d.per_finding["blind"] == "inconclusive" and "does not clear chance" in why["blind"]
    assert d.per_finding["absent"] == "inconclusive"
    assert why["absent"] == ("no positive image among the 80 test images where it is known: "
                             "its AUC cannot be estimated")
    assert e.per_finding["absent"].net_drop.value is None
    json.dumps(d.to_json(), allow_nan=False)
    # a model without skill overall still gets one verdict per finding, with the reason
    blind = _P(y[:, 1:], base.pred[:, 1:], prob[:, 1:])
    e = audit_effects(blind, blind, blind, groups, n_boot=300, n_decisions=2,
                      findings=findings[1:])
    d = audit_verdict(blind, {"lungs_removed": e}, groups, n_boot=300, findings=findings[1:])
    assert d.verdict == "inconclusive" and "chance" in d.reason
    assert d.per_finding == {"blind": "inconclusive", "absent": "inconclusive"}
    assert "no positive image" in d.per_finding_reasons["absent"]
    d = audit_verdict(base, {}, groups, n_boot=50, findings=findings)
    assert d.per_finding_reasons["seen"] == "no audited representation hides the lungs"
