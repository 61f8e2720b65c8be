"""Phantoms: deterministic, exact masks, evidence where the scenario puts it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.cli.main import main
from hideseek.data import load_dataset, read_image, read_mask
from hideseek.data.phantom import (
    BINARY_CLASSES,
    FINDING_ANSWERS,
    FINDING_PREVALENCE,
    FINDINGS,
    FINDINGS_SCENARIO,
    SITES,
    PhantomConfig,
    make_findings_phantom,
    make_phantom,
    write_phantom_dataset,
)


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


# --- the binary and multi-label tasks -------------------------------------------------------


def test_binary_phantoms_read_as_a_binary_task_and_draw_abnormal_as_covid(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = PhantomConfig(scenario="both", n=12, size=32, seed=4, task="binary")
    write_phantom_dataset(tmp_path / "b", cfg)
    with caplog.at_level("WARNING"):
        data = load_dataset(tmp_path / "b")
    assert "looks like" not in caplog.text  # 'abnormal' is another word, not a typo of 'normal'
    assert data.task is not None and data.task.kind == "multiclass"
    assert set(data.task.classes) == set(BINARY_CLASSES) and data.task.primary is None
    labels = [r.label for r in data.records]
    assert labels.count("normal") == labels.count("abnormal") == 6
    assert {r.source for r in data.records if r.label == "abnormal"} == {"site_c"}
    assert {r.source for r in data.records if r.label == "normal"} == {"site_a"}
    # the image of an abnormal phantom is the three-class COVID-19 phantom of its seed and index
    i, r = next((i, r) for i, r in enumerate(data.records) if r.label == "abnormal")
    expected, _ = make_phantom("COVID-19", "both", "site_c", 32, np.random.default_rng([4, i]))
    np.testing.assert_allclose(read_image(data.image_path(r)), expected, atol=1 / 255)


def test_binary_sources_and_covid_source(tmp_path: Path) -> None:
    write_phantom_dataset(tmp_path / "u", PhantomConfig(scenario="shortcut", n=40, size=32,
                                                        correlation=0.0, task="binary"))
    sources = {r.source for r in load_dataset(tmp_path / "u").records}
    assert sources == {"site_a", "site_c"}  # uncorrelated: one of the two classes' sites
    write_phantom_dataset(tmp_path / "c", PhantomConfig(scenario="covid_source", n=8, size=32,
                                                        task="binary"))
    data = load_dataset(tmp_path / "c")
    assert {r.source for r in data.records if r.label == "abnormal"} == {"site_c"}
    assert {r.source for r in data.records if r.label == "normal"} == {"site_a"}


def test_multilabel_phantoms_findings_per_patient_independent(tmp_path: Path) -> None:
    write_phantom_dataset(tmp_path / "m", PhantomConfig(n=600, size=32, seed=3,
                                                        task="multilabel"))
    header = (tmp_path / "m" / "manifest.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["filename", "labels"]
    data = load_dataset(tmp_path / "m")
    assert data.task is not None and data.task.multilabel
    assert set(data.task.classes) == set(FINDINGS)
    by_patient: dict[str, set[str]] = {}
    for r in data.records:
        by_patient.setdefault(r.patient_id, set()).add(r.label or "")
    assert len(by_patient) == 300 and all(len(v) == 1 for v in by_patient.values())
    y = np.array([[f in r.findings for f in FINDINGS] for r in data.records[::2]], dtype=float)
    assert np.all(np.abs(y.mean(0) - FINDING_PREVALENCE) < 0.1)  # 3.5 standard errors
    corr = np.corrcoef(y.T)[np.triu_indices(3, 1)]
    assert np.all(np.abs(corr) < 0.2)
    assert (~y.astype(bool).any(1)).sum() > 30  # images with no finding (empty labels)
    assert set(FINDING_ANSWERS) == set(FINDINGS)


def test_multilabel_evidence_sits_where_each_finding_says() -> None:
    def draw(findings: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return make_findings_phantom(findings, 128, np.random.default_rng(11), evidence=1.0)

    none, mask = draw([])
    diffs = {f: np.abs(draw([f])[0] - none) for f in FINDINGS}
    assert diffs["opacity"][mask].sum() > 5.0
    assert diffs["opacity"][~mask].sum() < 0.05 * diffs["opacity"][mask].sum()
    assert diffs["marker"][~mask].sum() > 5.0
    assert diffs["marker"][mask].sum() == pytest.approx(0.0, abs=1e-3)
    assert diffs["mixed"][mask].sum() > 5.0 and diffs["mixed"][~mask].sum() > 5.0
    # each finding has its own random stream: adding one does not move another's evidence
    both = np.abs(draw(["opacity", "marker"])[0] - none)
    np.testing.assert_allclose(both, np.abs(diffs["opacity"] + (draw(["marker"])[0] - none)),
                               atol=0.05)
    with pytest.raises(ValueError, match="unknown finding"):
        draw(["nodule"])


def test_phantom_task_and_scenario_validation() -> None:
    assert PhantomConfig().scenario == "lungs"
    assert PhantomConfig(task="multilabel").scenario == FINDINGS_SCENARIO
    assert PhantomConfig(task="binary").scenario == "lungs"
    with pytest.raises(ValueError, match="own scenario"):
        PhantomConfig(task="multilabel", scenario="shortcut")
    with pytest.raises(ValueError, match="multilabel task"):
        PhantomConfig(scenario=FINDINGS_SCENARIO)
    with pytest.raises(ValueError, match="unknown phantom task"):
        PhantomConfig(task="ordinal")


def test_cli_phantom_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hideseek.cli.data_cmds import PHANTOM_TASKS
    from hideseek.data.phantom import PHANTOM_TASKS as LIBRARY_TASKS

    assert PHANTOM_TASKS == LIBRARY_TASKS
    assert main(["phantom", "--task", "multilabel", "--n", "10", "--size", "32",
                 "--out", str(tmp_path / "m")]) == 0
    data = load_dataset(tmp_path / "m")
    assert data.task is not None and data.task.multilabel
    assert "--task multilabel" in (tmp_path / "m" / "README.md").read_text()
    assert main(["phantom", "--task", "binary", "--scenario", "shortcut", "--n", "6",
                 "--size", "32", "--out", str(tmp_path / "b")]) == 0
    assert {r.label for r in load_dataset(tmp_path / "b").records} == set(BINARY_CLASSES)
    capsys.readouterr()
    assert main(["phantom", "--task", "multilabel", "--scenario", "shortcut", "--n", "6",
                 "--out", str(tmp_path / "x")]) == 1
    assert "own scenario" in capsys.readouterr().err
