"""The operating table: summaries, the published JSON and the report's sentence."""

from __future__ import annotations

import json
from pathlib import Path

from hideseek.protocol.operating import (
    Outcome,
    TrialSpec,
    detection_sentence,
    grid_summary,
    load_outcomes,
    publish,
    published_trials,
    table_rows,
)


def _outcomes() -> list[Outcome]:
    found = []
    for t in range(4):  # marker on every image: found in 3 of 4 trials at the large size
        spec = TrialSpec("segmentation-shenzhen", 1.0, "none", t)
        found += [Outcome(spec, "small", 60, "inconclusive", "inconclusive"),
                  Outcome(spec, "large", 200, "shortcut", "shortcut" if t else "inconclusive",
                          audit="relies_outside")]
    for t in range(5):  # lung evidence only: one false alarm in 5
        spec = TrialSpec("classification", 0.0, "strong", t)
        found += [Outcome(spec, "small", 60, "inconclusive", "inconclusive"),
                  Outcome(spec, "large", 132 if t == 0 else 200,
                          "shortcut" if t == 3 else "uses_lungs", "uses_lungs")]
    return found


def test_summary_and_published_table_count_the_same(tmp_path: Path) -> None:
    outcomes = _outcomes()
    rows = {(r[0], r[1], r[2]): r for r in grid_summary(table_rows(outcomes))}
    assert rows[("1", "none", "large")][5].endswith("(3/4)")
    assert rows[("0", "strong", "large")][3] == "132-200"
    table = publish(outcomes, tmp_path / "operating.json")
    assert json.loads((tmp_path / "operating.json").read_text(), parse_constant=_no_nan)
    large = {(r["contamination"], r["lung"]): r for r in table["rows"] if r["size"] == "large"}
    hit = large[(1.0, "none")]["marked_shortcut"]
    assert (hit["hits"], hit["n"]) == (3, 4) and hit["ci"][0] < 0.75 < hit["ci"][1]
    alarm = large[(0.0, "strong")]["shortcut"]
    assert (alarm["hits"], alarm["n"]) == (1, 5)


def test_trials_published_in_several_sessions_add_up_once(tmp_path: Path) -> None:
    path = tmp_path / "operating.json"
    outcomes = _outcomes()
    first, second = outcomes[:8], outcomes[6:]  # one trial (2 outcomes) in both
    publish(first, path)
    assert published_trials(path) == {f"segmentation-shenzhen-c1-none-t{t}" for t in range(4)}
    table = publish(second, path)
    assert table == publish(outcomes, tmp_path / "at_once.json")  # as if run in one session
    assert len(published_trials(path)) == 9
    assert publish(second, path) == table  # nothing new: nothing counted twice
    # a table of another training recipe is replaced, never added to
    stale = json.loads(path.read_text())
    stale["recipe"] = {**stale["recipe"], "epochs": 3}
    path.write_text(json.dumps(stale))
    assert published_trials(path) == set()
    again = publish(first, path)
    large = next(r for r in again["rows"] if r["size"] == "large")
    assert large["marked_shortcut"]["n"] == 4 and len(again["trials"]) == 4


def test_the_sentence_reads_the_nearest_test_size(tmp_path: Path) -> None:
    path = tmp_path / "operating.json"
    assert detection_sentence(100, path) is None  # nothing published: nothing said
    publish(_outcomes(), path)
    large = detection_sentence(180, path)
    assert large and "3 of 4 trials" in large and "1 of 5 trials" in large
    small = detection_sentence(50, path)
    assert small and "0 of 4 trials" in small and "60 test images" in small


def test_finished_trials_are_read_back(tmp_path: Path) -> None:
    spec = TrialSpec("segmentation-quex", 0.5, "weak", 2)
    folder = tmp_path / "trial"
    folder.mkdir()
    (folder / "outcomes.json").write_text(json.dumps([
        {"size": "large", "n_test": 200, "verdict": "shortcut", "marked": "shortcut",
         "flags": [], "audit": None, "sentence": "", "spec": {
             "background": spec.background, "contamination": 0.5, "lung": "weak",
             "trial": 2}}]))
    old = [{"size": "large", "n_test": 200, "verdict": "inconclusive", "marked": "shortcut",
            "flags": []}]  # written before the spec was stored: read from the folder's name
    for name in ("classification-c0.75-none-t4", "elsewhere"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "outcomes.json").write_text(json.dumps(old))
    found = load_outcomes(tmp_path)  # "elsewhere" names no trial: skipped
    assert len(found) == 2 and found[1].spec == spec and found[1].verdict == "shortcut"
    assert found[0].spec == TrialSpec("classification", 0.75, "none", 4)


def _no_nan(name: str) -> float:
    raise ValueError(f"not strict JSON: {name}")
