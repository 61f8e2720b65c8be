"""The audit's known answers with its default fill, on phantoms of two generators and sizes.

Models trained on the original images of data with a known mechanism (evidence in the lungs; a
marker outside them drawn by the phantom generator, or planted by ``hideseek plant`` below the
diaphragm; a marker inside the lung boxes but outside the mask, at 64 and 128 px; nothing) are
audited with the default fill, and with the zero fill, which may only ever say the same or
``inconclusive``.
Run on both precision paths (``HIDESEEK_CPU_BF16=0`` for the fp32 one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.classification.audit_matrix import AUDIT_EXPECTED, audit_scenario, scenario_model
from hideseek.representations.builtin import SURROUND

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit_matrix")


#: The rows of the suite; the others run with ``make test-known`` (and bench/audit_matrix.py).
_HEAVY = pytest.mark.known_answer


@pytest.mark.parametrize(("scenario", "size"), [
    ("lungs", 64), ("shortcut", 64), pytest.param("marker_below", 64, marks=_HEAVY),
    pytest.param("null", 64, marks=_HEAVY), pytest.param("marker_in_boxes", 64, marks=_HEAVY),
    pytest.param("marker_in_boxes", 128, marks=_HEAVY)])
def test_the_default_fill_is_right_and_the_zero_fill_never_wrong(
        matrix: Path, scenario: str, size: int) -> None:
    rows = audit_scenario(scenario, matrix, size=size, fills=["zero"], n_boot=300)
    default, zero = rows
    assert default.default_fill and default.fill == "texture"
    assert default.ok, (default.verdict, default.flags, AUDIT_EXPECTED[scenario][0])
    assert zero.ok, (zero.verdict, zero.flags)  # right or inconclusive
    if scenario == "lungs":  # far from the margin: the net drop is large on the mask
        assert (default.net_drop["lungs_removed"] or 0) > 0.3
    if scenario in ("shortcut", "marker_below"):  # the lungs cost it nothing (the controls
        # may: an equal area elsewhere can cover the marker)
        assert abs(default.drop["lungs_removed"] or 0) < 0.15
    if scenario == "marker_in_boxes":  # the surround control: hiding the tag, the lungs
        # kept, costs far more than the rule's margin (0.40-0.45 at 64 px, 0.44 at 128 px)
        assert (default.net_drop[SURROUND] or 0) > 0.25
    if scenario == "lungs":  # the surround control leaves the lungs: it costs little
        assert abs(default.net_drop[SURROUND] or 0) < 0.1


@pytest.mark.parametrize("scenario", ["lungs", pytest.param("shortcut", marks=_HEAVY)])
def test_the_audit_command_json_and_the_mask_check(matrix: Path, scenario: str) -> None:
    import json

    from hideseek.cli.main import main

    root = scenario_model(scenario, matrix, size=64).parent  # reused when trained above
    js = root / "audit.json"
    assert main(["audit", str(root / "test"), "--model", str(root / "model"), "--masks",
                 str(root / "test" / "masks"), "--split", "all", "--json", str(js),
                 "--n-boot", "300", "--mask-perturb"]) == 0
    found = json.loads(js.read_text())
    assert {"representations", "vs_data", "audit_verdict", "audit", "fill_detectability",
            "mask_perturbation"} <= set(found)
    for rep in ("lungs_removed", "lungs_boxed_out"):
        for key in ("drop", "control_drop", "net_drop"):
            assert set(found["vs_data"][rep][key]) == {"value", "ci"}
        assert 0.5 <= found["vs_data"][rep]["control_area_ratio"] <= 1.5
    assert found["fill"] == "texture" and found["fill_source"] == "default"
    assert not found["fill_detectability"]["lungs_removed"]["detectable"]
    expected = "relies_on_lungs" if scenario == "lungs" else "relies_outside"
    assert found["audit_verdict"] == expected
    assert found["mask_perturbation"]["holds"], found["mask_perturbation"]

