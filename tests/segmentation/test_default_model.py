"""The shipped default model on the real shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hideseek.cli.main import main
from hideseek.data import load_dataset, read_mask
from hideseek.segmentation import evaluate_masks, load_segmenter, postprocess_mask, predict_masks


def test_default_model_meets_the_dice_target_on_held_out_patients(
        segmentation_pack: Path) -> None:
    model, size, meta = load_segmenter()
    assert size == 256 and len(meta["test_files"]) == 15
    data = load_dataset(segmentation_pack, require_label=False)
    records = [r for r in data.records if r.filename in set(meta["test_files"])]
    assert len(records) == 15 and data.masks_dir is not None
    masks_dir = data.masks_dir

    def pairs():  # type: ignore[no-untyped-def]
        for i, raw in predict_masks([data.image_path(r) for r in records], model, size, 8, 0):
            name = records[i].filename
            yield name, postprocess_mask(raw).mask, read_mask(masks_dir / name, raw.shape)

    report = evaluate_masks(pairs())
    summary = report.to_dict()
    assert summary["dice"]["mean"] >= 0.95  # type: ignore[index]
    assert summary["table2"]["lung"]["f1"] >= 0.95  # type: ignore[index]


def test_cli_predict_and_eval_on_real_images(segmentation_pack: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pred"
    assert main(["segment", "predict", str(segmentation_pack), "--out", str(out),
                 "--workers", "1"]) == 0
    assert len(list((out / "masks").glob("*.png"))) == 117
    assert "117 masks" in capsys.readouterr().out
    js = tmp_path / "e.json"
    assert main(["segment", "eval", str(segmentation_pack), "--masks", str(out / "masks"),
                 "--json", str(js)]) == 0
    result = json.loads(js.read_text())
    # Most of these images were training images: a high score is expected, a low one a bug.
    assert result["dice"]["mean"] > 0.95
    assert result["per_label_dice"]["COVID-19"] > 0.95
