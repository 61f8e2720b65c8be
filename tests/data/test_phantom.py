"""Phantoms: deterministic, exact masks, evidence where the scenario puts it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.cli.main import main
from hideseek.data import load_dataset, read_image, read_mask
from hideseek.data.phantom import SITES, PhantomConfig, make_phantom, write_phantom_dataset


def test_deterministic_per_seed(tmp_path: Path) -> None:
    cfg = PhantomConfig(scenario="both", n=6, size=64, seed=5)
    write_phantom_dataset(tmp_path / "a", cfg)
    write_phantom_dataset(tmp_path / "b", cfg)
    for name in sorted(p.name for p in (tmp_path / "a" / "images").iterdir()):
        a, b = (read_image(tmp_path / d / "images" / name) for d in ("a", "b"))
        np.testing.assert_array_equal(a, b)


def test_labels_balanced_and_patients_grouped(phantom_lungs: Path) -> None:
    data = load_dataset(phantom_lungs)
    labels = [r.label for r in data.records]
    assert {labels.count(k) for k in set(labels)} == {20}
    by_patient: dict[str, set[str | None]] = {}
    for r in data.records:
        by_patient.setdefault(r.patient_id, set()).add(r.label)
    assert all(len(v) == 1 for v in by_patient.values()) and len(by_patient) == 30


def _pair(label: str, scenario: str, site: str) -> tuple[np.ndarray, np.ndarray]:
    # Same seed: identical anatomy and noise; only the evidence differs.
    return make_phantom(label, scenario, site, 128, np.random.default_rng(7))


def test_lung_evidence_stays_inside_the_mask() -> None:
    normal, mask = _pair("normal", "lungs", "site_a")
    for label in ("pneumonia", "COVID-19"):
        sick, mask2 = _pair(label, "lungs", "site_a")
        assert np.array_equal(mask, mask2)
        diff = np.abs(sick - normal)
        assert diff[mask].sum() > 5.0
        # Outside the lungs only the final light blur leaks a little.
        assert diff[~mask].sum() < 0.05 * diff[mask].sum()


def test_shortcut_marker_is_outside_the_lungs() -> None:
    for a, b in ((SITES[0], SITES[1]), (SITES[1], SITES[2])):
        img_a, mask = _pair("normal", "shortcut", a)
        img_b, _ = _pair("normal", "shortcut", b)
        diff = np.abs(img_a - img_b)
        assert diff[~mask].sum() > 5.0 and diff[mask].sum() == pytest.approx(0.0, abs=1e-3)


def test_mask_file_is_exact(phantom_lungs: Path) -> None:
    data = load_dataset(phantom_lungs)
    r = data.records[0]
    mask = read_mask(phantom_lungs / "masks" / r.filename)
    frac = mask.mean()
    assert 0.1 < frac < 0.4


def test_cli_phantom_and_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["phantom", "--scenario", "shortcut", "--n", "9", "--size", "48",
                 "--out", str(tmp_path / "p")]) == 0
    assert len(load_dataset(tmp_path / "p")) == 9
    assert main(["phantom", "--n", "0", "--out", str(tmp_path / "q")]) == 1
    assert "hideseek: error:" in capsys.readouterr().err


def test_cli_scenarios_match_the_library() -> None:
    from hideseek.cli.data_cmds import PHANTOM_SCENARIOS
    from hideseek.data.phantom import SCENARIOS

    assert PHANTOM_SCENARIOS == SCENARIOS


def test_cli_new_flags(tmp_path: Path) -> None:
    assert main(["phantom", "--scenario", "covid_source", "--n", "12", "--size", "32",
                 "--evidence", "2", "--images-per-patient", "3", "--correlation", "1",
                 "--out", str(tmp_path / "p")]) == 0
    data = load_dataset(tmp_path / "p")
    assert len({r.patient_id for r in data.records}) == 4
    assert {r.source for r in data.records if r.label == "COVID-19"} == {"site_c"}
    assert {r.source for r in data.records if r.label != "COVID-19"} == {"site_a"}
    assert "--evidence 2" in (tmp_path / "p" / "README.md").read_text()


def test_evidence_scales_the_lesions() -> None:
    normal, mask = _pair("normal", "lungs", "site_a")
    weak = make_phantom("pneumonia", "lungs", "site_a", 128, np.random.default_rng(7),
                        evidence=0.5)[0]
    strong = make_phantom("pneumonia", "lungs", "site_a", 128, np.random.default_rng(7),
                          evidence=2.0)[0]
    assert np.abs(strong - normal)[mask].sum() > 3 * np.abs(weak - normal)[mask].sum()
    with pytest.raises(ValueError, match="evidence"):
        PhantomConfig(evidence=-1)


def test_null_and_shape_carry_no_lesions_and_shape_changes_the_mask() -> None:
    a, _ = _pair("normal", "null", "site_a")
    b, _ = _pair("pneumonia", "null", "site_b")
    np.testing.assert_array_equal(a, b)  # same anatomy, nothing else differs
    _, m_normal = _pair("normal", "shape", "site_a")
    _, m_pneu = _pair("pneumonia", "shape", "site_a")
    _, m_covid = _pair("COVID-19", "shape", "site_a")
    assert m_pneu.sum() < 0.8 * m_normal.sum() and m_covid.sum() < 0.8 * m_normal.sum()


def test_intensity_curve_reaches_inside_the_lungs() -> None:
    a, mask = _pair("normal", "intensity", "site_a")
    c, _ = _pair("normal", "intensity", "site_c")
    diff = np.abs(a - c)
    assert diff[mask].mean() > 0.05 and diff[~mask].mean() > 0.05


def test_covid_source_marks_covid_only_and_keeps_lung_evidence() -> None:
    covid, mask = _pair("COVID-19", "covid_source", "site_c")
    normal, _ = _pair("normal", "covid_source", "site_a")
    pneu, _ = _pair("pneumonia", "covid_source", "site_a")
    d_marker = np.abs(covid - normal)
    assert d_marker[~mask].sum() > 5.0 and d_marker[mask].sum() < 0.5  # marker, no lesions
    d_lesion = np.abs(pneu - normal)
    assert d_lesion[mask].sum() > 5.0 and d_lesion[~mask].sum() < 0.05 * d_lesion[mask].sum()
