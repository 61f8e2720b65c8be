"""Segmentation training (resume is exact), prediction and evaluation on phantoms."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hideseek.cli.main import main
from hideseek.data import load_dataset, read_image, read_mask, write_png
from hideseek.errors import HideseekError
from hideseek.segmentation import (
    SegTrainConfig,
    UNet,
    UNetConfig,
    load_segmenter,
    predict_dataset,
    train_segmenter,
)

TINY = {"image_size": 32, "depth": 3, "base": 4, "batch_size": 8, "lr": 3e-3}


def test_unet_shapes_and_paper_config() -> None:
    net = UNet(UNetConfig(depth=3, base=4))
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 2, 32, 32)
    paper = UNet()
    widths = [m[0].out_channels for m in paper.down]
    assert widths == [64, 128, 256, 512, 1024]


def test_resume_equals_uninterrupted(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    cache = tmp_path / "cache"
    keep = {**TINY, "keep_state": True}  # compares the finished runs' last.pt
    train_segmenter(data, tmp_path / "full", SegTrainConfig(epochs=2, **keep), cache_dir=cache)
    train_segmenter(data, tmp_path / "part", SegTrainConfig(epochs=1, **keep), cache_dir=cache)
    with pytest.raises(HideseekError, match="--resume"):
        train_segmenter(data, tmp_path / "part", SegTrainConfig(epochs=2, **keep),
                        cache_dir=cache)
    train_segmenter(data, tmp_path / "part", SegTrainConfig(epochs=2, **keep), resume=True,
                    cache_dir=cache)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader((tmp_path / "part" / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]


def test_predict_writes_masks_and_regions(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    out = tmp_path / "trained"
    train_segmenter(data, out, SegTrainConfig(epochs=4, **TINY), cache_dir=tmp_path / "c")
    model, size, meta = load_segmenter(out)
    assert size == 32 and meta["epoch"] >= 1
    # The training masks' shape ranges travel with the model.
    summary = json.loads((out / "train.json").read_text())
    n_train = summary["n_train"]
    # ... and so does the record of whether it had converged (the classifiers' checker).
    conv = summary["convergence"]
    assert conv["score"] == "val_dice" and len(conv["curve"]) == 4
    assert conv["best_epoch"] == summary["best_epoch"] and conv["reason"]
    ranges = meta["qc_ranges"]
    assert ranges["n_masks"] == n_train and ranges["area_fraction"][0] < ranges["area_fraction"][1]
    sub = data.with_records(data.records[:10])
    counts = predict_dataset(sub, tmp_path / "pred", model, size, batch_size=4, workers=0,
                             qc_ranges=ranges)
    assert counts["images"] == 10
    rows = list(csv.DictReader((tmp_path / "pred" / "regions.csv").open()))
    assert list(rows[0])[:15] == ["filename", "mask", "lung_area_fraction", "n_components",
                                  "box1_x0", "box1_y0", "box1_x1", "box1_y1",
                                  "box2_x0", "box2_y0", "box2_x1", "box2_y1",
                                  "empty", "one_lung", "implausible_area"]  # kept as they were
    assert rows[0]["implausible_shape"] in ("0", "1") and rows[0]["unreadable"] == "0"
    assert [r["filename"] for r in rows] == [r.filename for r in sub.records]
    mask = read_mask(tmp_path / "pred" / "masks" / rows[0]["filename"])
    assert mask.shape == read_image(data.image_path(sub.records[0])).shape
    # Rerun resumes: nothing to redo.
    again = predict_dataset(sub, tmp_path / "pred", model, size, workers=0)
    assert again["skipped"] == 10


def test_blank_and_noise_images_are_flagged_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "d" / "images").mkdir(parents=True)
    write_png(tmp_path / "d" / "images" / "blank.png", np.zeros((40, 50), np.float32))
    write_png(tmp_path / "d" / "images" / "noise.png",
              np.random.default_rng(0).random((40, 50)).astype(np.float32))
    (tmp_path / "d" / "manifest.csv").write_text("filename,label\nblank.png,\nnoise.png,\n")
    data = load_dataset(tmp_path / "d", require_label=False)
    model = UNet(UNetConfig(depth=3, base=4)).eval()
    with torch.no_grad():  # force "no lung anywhere"
        model.head.bias.copy_(torch.tensor([10.0, -10.0]))
    counts = predict_dataset(data, tmp_path / "p", model, 32, workers=0)
    assert counts["empty"] == 2


def test_cli_eval_json(phantom_lungs: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    # Evaluating the true masks against themselves gives perfect scores.
    js = tmp_path / "eval.json"
    assert main(["segment", "eval", str(phantom_lungs), "--masks", str(phantom_lungs / "masks"),
                 "--json", str(js)]) == 0
    result = json.loads(js.read_text())
    assert result["table2"]["lung"]["f1"] == 1.0 and result["dice"]["mean"] == 1.0
    assert "class 0 (background)" in capsys.readouterr().out
    assert main(["segment", "eval", str(phantom_lungs)]) == 1
