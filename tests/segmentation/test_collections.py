"""Several lung-mask collections trained and cross-validated together, whatever their labels."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hideseek.cli.main import main
from hideseek.data import load_dataset
from hideseek.data.manifest import write_manifest
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError
from hideseek.segmentation import SegTrainConfig
from hideseek.segmentation.train import sampling_weights, split_collections

TINY = ["--image-size", "32", "--depth", "3", "--base", "4", "--batch-size", "8",
        "--lr", "3e-3", "--epochs", "1", "--device", "cpu"]


def _collection(root: Path, n: int, labels: tuple[str, ...], source: str, seed: int) -> Path:
    """A phantom mask collection relabelled with labels no preset knows."""
    records = write_phantom_dataset(root, PhantomConfig(scenario="lungs", n=n, size=40,
                                                        seed=seed))
    write_manifest(root / "manifest.csv",
                   [replace(r, label=labels[i % len(labels)], source=source, split=None)
                    for i, r in enumerate(records)])
    return root


@pytest.fixture(scope="module")
def collections(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("collections")
    return [_collection(base / "tb", 24, ("normal", "tuberculosis"), "shenzhen", 1),
            _collection(base / "quex", 36, ("non-COVID", "covid", "normal"), "quex", 2),
            _collection(base / "v7", 12, ("COVID-19",), "cohen", 3)]


def test_unknown_labels_are_kept_where_no_label_is_needed(collections: list[Path]) -> None:
    data = load_dataset(collections[0], require_label=False)
    assert Counter(r.label for r in data.records) == {"normal": 12, "tuberculosis": 12}


def test_several_folders_read_as_one_dataset(collections: list[Path]) -> None:
    data = load_dataset(collections, require_label=False)
    assert data.form == "combined" and len(data) == 72 and data.has_masks
    assert list(data.collections) == ["tb", "quex", "v7"]
    first = {r.collection: r for r in data.records}
    for name, r in first.items():
        assert data.image_path(r).parent.parent.name == name
        mask = data.mask_path(r)
        assert mask is not None and mask.parent.parent.name == name
        assert r.key == f"{name}/{r.filename}"


def test_splits_per_collection_and_sampling_shares(collections: list[Path]) -> None:
    data = load_dataset(collections, require_label=False)
    records = split_collections(data.records, (0.75, 0.25, 0.0), seed=0)
    assert [r.key for r in records] == [r.key for r in data.records]
    val = Counter(r.collection for r in records if r.split == "val")
    assert set(val) == {"tb", "quex", "v7"}  # every collection keeps a validation share
    train = [r for r in records if r.split == "train"]
    sizes = Counter(r.collection for r in train)

    def shares(config: SegTrainConfig) -> dict[str, float]:
        w = sampling_weights(train, config)
        assert w is not None
        total = sum(w)
        return {c: sum(x for x, r in zip(w, train, strict=True) if r.collection == c) / total
                for c in sizes}

    even = shares(SegTrainConfig(collection_sampling="balanced"))
    assert even == pytest.approx({c: 1 / 3 for c in sizes})
    sqrt = shares(SegTrainConfig())
    norm = sum(np.sqrt(n) for n in sizes.values())
    assert sqrt == pytest.approx({c: np.sqrt(n) / norm for c, n in sizes.items()})
    prop = shares(SegTrainConfig(collection_sampling="proportional"))
    assert prop == pytest.approx({c: n / len(train) for c, n in sizes.items()})
    heavy = shares(SegTrainConfig(collection_sampling="balanced", collection_weights={"v7": 2}))
    assert heavy["v7"] == pytest.approx(0.5)
    with pytest.raises(HideseekError, match="unknown collection"):
        sampling_weights(train, SegTrainConfig(collection_weights={"nope": 1.0}))
    # One dataset and no epoch size: plain shuffling, as before (same runs).
    one = [replace(r, collection="") for r in train]
    assert sampling_weights(one, SegTrainConfig()) is None


def test_segment_train_on_several_collections_from_a_config(collections: list[Path],
                                                            tmp_path: Path) -> None:
    config = tmp_path / "seg.yaml"
    config.write_text(f"data: [{', '.join(str(c) for c in collections)}]\n"
                      "samples_per_epoch: 16\nsplit: [0.75, 0.25, 0.0]\n")
    out = tmp_path / "run"
    assert main(["segment", "train", "--config", str(config), "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "train.json").read_text())
    assert summary["n_train"] + summary["n_val"] == 72
    with (out / "splits.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert Counter(r["collection"] for r in rows) == {"tb": 24, "quex": 36, "v7": 12}
    assert {r["split"] for r in rows} == {"train", "val"}
    assert main(["segment", "train", "--out", str(tmp_path / "none"), *TINY]) == 1


def test_segment_train_runs_and_records_every_augmentation(collections: list[Path],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "augmented"
    assert main(["segment", "train", str(collections[0]), "--out", str(out), "--opacity-augment",
                 "--elastic-augment", "--exposure-augment", *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["opacity_augment"] and config["elastic_augment"] and config["exposure_augment"]


def test_leave_one_collection_out(collections: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "loco"
    args = ["segment", "crossval", *map(str, collections), "--group-by", "source",
            "--out", str(out), "--samples-per-epoch", "16", *TINY]
    assert main(args) == 0
    result = json.loads((out / "crossval.json").read_text())
    folds = {f["group"]: f for f in result["folds"]}
    assert set(folds) == {"quex", "shenzhen", "cohen"}
    assert folds["quex"]["images"] == 36 and folds["shenzhen"]["images"] == 24
    assert all(k.startswith("quex/") for k in folds["quex"]["per_image"])
    assert folds["quex"]["n_train"] + folds["quex"]["n_val"] == 36  # the other two collections
    assert not folds["quex"]["image_level"]  # phantoms carry patient ids
    assert main(args) == 0  # unchanged inputs: every fold reused
    again = json.loads((out / "crossval.json").read_text())
    assert all(f["reused"] for f in again["folds"])
