"""The source probe balanced within label: the design, its chance, the confounded case."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hideseek.classification import load_train_config
from hideseek.classification.probe import label_balanced_design, probe_source
from hideseek.data import PhantomConfig, load_dataset, write_phantom_dataset
from hideseek.data.manifest import Record


def _records() -> list[Record]:
    cells = {("normal", "a"): 30, ("normal", "b"): 12, ("normal", "c"): 3,
             ("COVID-19", "c"): 40, ("COVID-19", "b"): 15, ("pneumonia", "a"): 50}
    return [Record(f"{lab}_{src}_{i}.png", lab, src, f"{lab}{src}{i}")
            for (lab, src), n in cells.items() for i in range(n)]


def test_design_balances_sources_within_each_label() -> None:
    d = label_balanced_design(_records(), min_per_source=10, seed=0)
    counts = Counter((r.label, r.source) for r in d.records)
    assert counts == {("normal", "a"): 12, ("normal", "b"): 12,
                      ("COVID-19", "b"): 15, ("COVID-19", "c"): 15}
    assert "pneumonia" in d.left_out  # one source only: it would leak the source by label
    assert d.chance(["normal", "COVID-19"]) == pytest.approx(0.5)
    again = label_balanced_design(_records(), min_per_source=10, seed=0)
    assert [r.filename for r in again.records] == [r.filename for r in d.records]


def test_fully_confounded_data_gives_no_probe(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_phantom_dataset(root, PhantomConfig(scenario="shortcut", n=30, size=32, seed=0))
    cfg = load_train_config(arch="resnet18", epochs=1, image_size=32, pretrained=False)
    r = probe_source(load_dataset(root), root / "masks", tmp_path / "probe", cfg)
    assert r["representations"] == {} and "confounded" in r["note"]
    assert (tmp_path / "probe" / "probe.json").is_file()


def test_probe_runs_on_a_balanced_design(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_phantom_dataset(root, PhantomConfig(scenario="shortcut", n=90, size=32, seed=0,
                                              correlation=0.34))
    cfg = load_train_config(arch="resnet18", epochs=1, image_size=32, pretrained=False,
                            crop_top=0.0)
    r = probe_source(load_dataset(root), root / "masks", tmp_path / "probe", cfg,
                     representations=("data",), min_per_source=3)
    rep = r["representations"]["data"]
    assert rep["chance_kind"] == "label_informed"
    assert 0.3 <= rep["chance"] <= 0.5  # two or three sources per label, not the majority rate
    assert set(rep["per_label"]) == set(r["design"]["sources"])
    assert rep["n"] == sum(v["n"] for v in rep["per_label"].values())
