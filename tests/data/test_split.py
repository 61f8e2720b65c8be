"""Split invariants, checked with property-based tests."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hideseek.data.labels import LABELS
from hideseek.data.manifest import Record
from hideseek.data.split import assign_splits
from hideseek.errors import DataError

patients = st.lists(
    st.tuples(st.sampled_from(LABELS), st.integers(min_value=1, max_value=4)),
    min_size=1, max_size=80)


def _records(spec: list[tuple[str, int]]) -> list[Record]:
    return [Record(filename=f"p{i}_{k}.png", label=label, patient_id=f"p{i}")
            for i, (label, n) in enumerate(spec) for k in range(n)]


@settings(max_examples=60, deadline=None)
@given(spec=patients, seed=st.integers(0, 2**31))
def test_patients_never_cross_splits_and_nothing_dropped(spec: list[tuple[str, int]],
                                                         seed: int) -> None:
    records = _records(spec)
    out = assign_splits(records, seed=seed)
    assert [r.filename for r in out] == [r.filename for r in records]
    assert all(r.split in {"train", "val", "test"} for r in out)
    where: dict[str, set[str]] = {}
    for r in out:
        where.setdefault(r.patient_id, set()).add(r.split or "")
    assert all(len(s) == 1 for s in where.values())
    assert out == assign_splits(records, seed=seed)  # deterministic per seed


@settings(max_examples=40, deadline=None)
@given(spec=st.lists(st.sampled_from(LABELS), min_size=30, max_size=120),
       seed=st.integers(0, 1000))
def test_stratified_per_label(spec: list[str], seed: int) -> None:
    out = assign_splits(_records([(lab, 1) for lab in spec]), (0.7, 0.15, 0.15), seed=seed)
    for label in LABELS:
        n = sum(1 for lab in spec if lab == label)
        got = Counter(r.split for r in out if r.label == label)
        for split, frac in zip(("train", "val", "test"), (0.7, 0.15, 0.15), strict=True):
            assert abs(got[split] - frac * n) <= 1.0


def test_existing_splits_respected() -> None:
    recs = [Record(f"{i}.png", LABELS[i % 3], patient_id=f"p{i}",
                   split="test" if i < 6 else ("train" if i < 30 else None)) for i in range(60)]
    out = assign_splits(recs, seed=3)
    assert [r.split for r in out[:30]] == [r.split for r in recs[:30]]
    # New patients fill train and val only: a given test set is never enlarged.
    assert {r.split for r in out[30:]} <= {"train", "val"}
    assert any(r.split == "val" for r in out)


def test_patient_in_two_splits_is_an_error() -> None:
    recs = [Record("a.png", "normal", patient_id="p1", split="train"),
            Record("b.png", "normal", patient_id="p1", split="test")]
    with pytest.raises(DataError, match="p1"):
        assign_splits(recs)


def test_split_warnings() -> None:
    from hideseek.data.split import split_warnings

    def rec(i: int, label: str, split: str | None) -> Record:
        return Record(filename=f"{i}.png", label=label, patient_id=f"p{i}", split=split)

    labels = ["normal", "pneumonia", "COVID-19"]
    assert split_warnings([rec(i, labels[i % 3], None) for i in range(30)]) == []  # no splits
    full = [rec(i, labels[i % 3], "test" if i < 12 else "train") for i in range(30)]
    assert split_warnings(full) == []
    tiny = [rec(i, labels[i % 3], "test" if i < 4 else "train") for i in range(30)]
    assert split_warnings(tiny) == ["the test split holds only 4 image(s) (fewer than 10): its "
                                    "results mean little"]
    lacking = [rec(i, labels[i % 3], "test" if i % 3 else "train") for i in range(30)]
    assert split_warnings(lacking) == ["the test split has no image of class normal: its "
                                       "per-class results cannot be measured"]
    empty = split_warnings([rec(i, labels[i % 3], "train") for i in range(5)])
    assert len(empty) == 1 and empty[0].startswith("the test split is empty (5 images")
