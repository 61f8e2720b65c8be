"""COVIDx end to end on the data side: official train/test kept, val carved from train."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hideseek.data.manifest import load_dataset
from hideseek.data.phantom import COVIDX_SOURCES, write_covidx_tree
from hideseek.data.split import assign_splits, patient_overlap


@pytest.fixture(scope="module")
def covidx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("covidx")
    write_covidx_tree(root, 120, size=32, images_per_patient=3)
    return root


def test_tree_loads_as_covidx(covidx: Path) -> None:
    data = load_dataset([covidx / "train.txt", covidx / "test.txt"], images=covidx)
    assert data.form == "covidx" and len(data) == 120
    assert {r.source for r in data.records} == set(COVIDX_SOURCES)
    assert Counter(r.split for r in data.records) == {"train": 96, "test": 24}
    assert max(Counter(r.patient_id for r in data.records).values()) == 3
    assert all(data.image_path(r).is_file() for r in data.records)


@pytest.mark.parametrize("seed", [0, 7])
def test_val_carved_from_train_patients_only(covidx: Path, seed: int) -> None:
    data = load_dataset([covidx / "train.txt", covidx / "test.txt"], images=covidx)
    before = {r.filename: r.split for r in data.records}
    out = assign_splits(data.records, (0.7, 0.15, 0.15), seed=seed)
    after = {r.filename: r.split for r in out}
    # The official test split is untouched; val comes from train only.
    assert {f for f, s in after.items() if s == "test"} == {
        f for f, s in before.items() if s == "test"}
    assert all(before[f] == "train" for f, s in after.items() if s == "val")
    assert not patient_overlap(out)
    val_patients = {r.patient_id for r in out if r.split == "val"}
    train_patients = {r.patient_id for r in data.records if r.split == "train"}
    # 0.15 / 0.85 of the 32 training patients, each label represented.
    assert 4 <= len(val_patients) <= 7 and val_patients < train_patients
    assert {r.label for r in out if r.split == "val"} == {"normal", "pneumonia", "COVID-19"}
    assert out == assign_splits(data.records, (0.7, 0.15, 0.15), seed=seed)  # seeded


def test_given_val_split_is_kept(covidx: Path) -> None:
    data = load_dataset([covidx / "train.txt", covidx / "test.txt"], images=covidx)
    first = assign_splits(data.records, seed=1)
    assert assign_splits(first, seed=2) == first
