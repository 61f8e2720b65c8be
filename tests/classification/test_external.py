"""External test sets: asked for explicitly, and never sharing a patient with training."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from hideseek.classification.config import TrainConfig
from hideseek.classification.evaluate import evaluate, select_records
from hideseek.classification.train import train_classifier
from hideseek.data.manifest import load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError


def _copy(src: Path, out: Path, suffix: str, patient_prefix: str = "") -> Path:
    """A copy of a pack with every image re-encoded as ``suffix``, images and patients renamed
    with ``patient_prefix``."""
    (out / "images").mkdir(parents=True)
    with (src / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        name = patient_prefix + Path(row["filename"]).with_suffix(suffix).name
        Image.open(src / "images" / row["filename"]).convert("L").save(out / "images" / name)
        row["filename"], row["patient_id"] = name, patient_prefix + row["patient_id"]
    with (out / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ext")
    write_phantom_dataset(root / "data", PhantomConfig(scenario="lungs", n=30, size=32, seed=4))
    cfg = TrainConfig(epochs=1, image_size=32, batch_size=16, pretrained=False, crop_top=0.0,
                      augment={"enabled": False})
    train_classifier(load_dataset(root / "data"), root / "model", cfg)
    return root / "data", root / "model"


def _split_names(model: Path, split: str) -> set[str]:
    with (model / "splits.csv").open() as fh:
        return {Path(r["filename"]).stem for r in csv.DictReader(fh) if r["split"] == split}


def test_renamed_images_are_matched_on_the_stem(trained: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    data, model = trained
    renamed = load_dataset(_copy(data, tmp_path / "jpg", ".jpg"))
    chosen = select_records(renamed, model, "test")
    assert {Path(r.filename).stem for r in chosen} == _split_names(model, "test")
    assert 0 < len(chosen) < len(renamed.records)


def test_unknown_images_need_external_and_no_shared_patient(trained: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    _, model = trained
    other = tmp_path / "other"
    write_phantom_dataset(other, PhantomConfig(scenario="lungs", n=12, size=32, seed=9))
    same_patients = load_dataset(_copy(other, tmp_path / "same", ".tif"))  # names known
    assert {Path(r.filename).stem for r in select_records(same_patients, model, "test")} <= \
        _split_names(model, "test")
    for r in same_patients.records:
        assert not r.split
    with pytest.raises(HideseekError, match="--external"):
        select_records(load_dataset(_copy(other, tmp_path / "renamed", ".bmp", "x")), model,
                       "test")
    with pytest.raises(HideseekError, match="lungs-p0000") as err:
        select_records(same_patients, model, "test", external=True)
    assert "training/validation" in str(err.value)
    fresh = load_dataset(_copy(other, tmp_path / "fresh", ".png", "ext-"))
    result, _ = evaluate(model, fresh, n_boot=20, external=True)
    assert result["n"] == len(fresh.records) and result["external"] is True
