"""Phantoms with a known answer, by the protocol itself: retrain on ``lungs_removed`` and compare
with the model trained on the originals, on the same test images (paired test).

Far from the thresholds: strong lesions (``evidence=2``), fixed seeds (phantoms, training and
split), a test quarter of 210 images, and bounds with wide room around the expected values
(lungs: about 0.95 -> chance 1/3; shortcut: about 1.0 -> 1.0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hideseek.classification import evaluate, load_train_config, paired_comparison
from hideseek.classification import train_classifier as train
from hideseek.data import PhantomConfig, load_dataset, write_phantom_dataset

pytestmark = pytest.mark.slow


def _protocol(tmp_path: Path, scenario: str) -> dict:  # type: ignore[type-arg]
    root = tmp_path / scenario
    write_phantom_dataset(root, PhantomConfig(scenario=scenario, n=210, size=96, seed=1,
                                              evidence=2.0))
    data = load_dataset(root)
    preds = {}
    for rep in ("data", "lungs_removed"):
        cfg = load_train_config(arch="resnet18", epochs=8, image_size=64, batch_size=16,
                                lr=1e-3, pretrained=False, crop_top=0.0, representation=rep,
                                seed=0, split_seed=0, split=(0.6, 0.15, 0.25))
        train(data, tmp_path / rep, cfg, masks_dir=root / "masks", cache_dir=tmp_path / "c")
        _, preds[rep] = evaluate(tmp_path / rep, data, masks_dir=root / "masks",
                                 cache_dir=tmp_path / "c", n_boot=200)
    a, b = preds["data"], preds["lungs_removed"]
    assert [r.filename for r in a.records] == [r.filename for r in b.records]  # paired
    return paired_comparison(a.y, a.pred, b.pred, [r.patient_id for r in a.records], 500)


def test_lungs_phantom_loses_its_accuracy_without_the_lungs(tmp_path: Path) -> None:
    r = _protocol(tmp_path, "lungs")
    assert r.accuracy_a >= 0.6  # expected ~0.95
    assert r.accuracy_b <= 0.55  # chance is 1/3
    assert r.accuracy_a - r.accuracy_b >= 0.25
    assert r.mcnemar_p < 0.01 and r.accuracy_difference.ci[1] < 0


def test_shortcut_phantom_keeps_its_accuracy_without_the_lungs(tmp_path: Path) -> None:
    r = _protocol(tmp_path, "shortcut")
    assert r.accuracy_a >= 0.7 and r.accuracy_b >= 0.7  # expected ~1.0
    assert abs(r.accuracy_difference.value) <= 0.15
