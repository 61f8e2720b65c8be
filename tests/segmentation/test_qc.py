"""Quality control of predicted masks: shape ranges, raw components, confidence, unreadable
files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hideseek.data import load_dataset, write_png
from hideseek.errors import HideseekError, ImageReadError
from hideseek.segmentation import UNet, UNetConfig, load_segmenter, postprocess_mask
from hideseek.segmentation.predict import (
    REGION_COLUMNS,
    predict_dataset,
    predict_masks,
    predict_probabilities,
)
from hideseek.segmentation.qc import (
    MAX_RAW_COMPONENTS,
    ShapeRanges,
    assess_prediction,
    measure_ranges,
    ranges_beside,
)

#: A generous range around the phantom lungs below (area ~0.3, box aspect 2).
RANGES = ShapeRanges(area_fraction=(0.15, 0.45), aspect=(1.5, 2.6), n_masks=10)


def _lungs(shape: tuple[int, int] = (100, 100), top: int = 10, bottom: int = 90,
           width: int = 40) -> np.ndarray:
    """Two rectangles of ``bottom - top`` x ``width`` px either side of the midline."""
    m = np.zeros(shape, bool)
    m[top:bottom, 8:8 + width] = True
    m[top:bottom, 92 - width:92] = True
    return m


def _judge(prob: np.ndarray, ranges: ShapeRanges | None = RANGES):  # type: ignore[no-untyped-def]
    raw = prob >= 0.5
    return assess_prediction(prob, raw, postprocess_mask(raw), ranges)


def test_plausible_lungs_are_not_flagged() -> None:
    m = _lungs(width=20)  # two 80 x 20 px lungs: aspect 4 > 2.6 (tolerance 10%: 2.86)
    assert _judge(np.where(m, 0.99, 0.01)).implausible_shape
    m = _lungs(width=40, top=10, bottom=90)  # aspect 2.0, area 0.64: area too large
    qc = _judge(np.where(m, 0.99, 0.01))
    assert qc.implausible_shape and "area" in qc.reasons[0]
    m = _lungs(width=22, top=30, bottom=74)  # aspect 2.0, area 0.19
    qc = _judge(np.where(m, 0.99, 0.01))
    assert qc.aspects == (2.0, 2.0) and qc.raw_components == 2
    assert not qc.flagged and qc.confidence == pytest.approx(0.99) and qc.reasons == ()


def test_one_component_aspect_is_not_judged() -> None:
    # Two lungs touching: one wide component (aspect 0.5), area in range -> not flagged.
    m = np.zeros((100, 100), bool)
    m[30:70, 10:90] = True
    qc = _judge(np.where(m, 0.99, 0.01))
    assert postprocess_mask(m).one_lung and qc.aspects == (0.5,)
    assert qc.implausible_shape is False and not qc.flagged


def test_no_ranges_leave_the_shape_unjudged() -> None:
    m = _lungs(width=20)
    assert _judge(np.where(m, 0.99, 0.01), None).implausible_shape is None


def test_many_raw_components_and_low_confidence() -> None:
    m = _lungs(width=22, top=30, bottom=74)
    speckled = m.copy()
    speckled[2:8:2, 2:98:4] = True  # 3 x 24 isolated specks, removed by post-processing
    qc = _judge(np.where(speckled, 0.99, 0.01))
    assert qc.raw_components == 2 + 72 > MAX_RAW_COMPONENTS
    assert qc.many_components and not qc.implausible_shape and qc.flagged
    qc = _judge(np.where(m, 0.6, 0.01))  # the network hesitates over the whole lung
    assert qc.low_confidence and qc.confidence == pytest.approx(0.6) and qc.flagged
    empty = _judge(np.full((100, 100), 0.01))
    assert np.isnan(empty.confidence) and not empty.low_confidence  # empty: its own flag


def test_measure_ranges_and_round_trip(tmp_path: Path) -> None:
    masks = [_lungs(width=w, top=30, bottom=74) for w in (20, 22, 24, 26)]
    r = measure_ranges(masks, percentiles=(0.0, 100.0))
    assert r.n_masks == 4 and r.aspect == pytest.approx((44 / 26, 44 / 20), abs=1e-4)
    assert r.area_fraction == (2 * 44 * 20 / 1e4, 2 * 44 * 26 / 1e4)
    assert ShapeRanges.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    lo, hi = r.allowed(0.1)["aspect"]
    assert lo == pytest.approx(r.aspect[0] / 1.1) and hi == pytest.approx(r.aspect[1] * 1.1)
    with pytest.raises(HideseekError, match="two lungs"):
        measure_ranges([np.zeros((10, 10), bool)])
    ckpt = tmp_path / "m.pt"
    assert ranges_beside(ckpt) is None
    (tmp_path / "m.qc.json").write_text('{"aspect": [1]}')
    with pytest.raises(HideseekError, match=r"m\.qc\.json"):
        ranges_beside(ckpt)


def test_shipped_model_reads_its_ranges_beside_the_weights() -> None:
    _, _, meta = load_segmenter()
    r = ShapeRanges.from_dict(meta["qc_ranges"])
    assert r.n_masks == 80 and 0.05 < r.area_fraction[0] < r.area_fraction[1] < 0.7
    assert 0.8 < r.aspect[0] < r.aspect[1] < 4


def _pack(tmp_path: Path) -> Path:
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    m = _lungs((48, 48), top=8, bottom=40, width=14)
    write_png(root / "images" / "a.png", np.where(m, 0.8, 0.2).astype(np.float32))
    (root / "images" / "text.png").write_text("not an image\n" * 5)
    write_png(root / "images" / "b.png", np.where(m, 0.7, 0.3).astype(np.float32))
    (root / "manifest.csv").write_text("filename,label\na.png,\ntext.png,\nb.png,\n")
    return root


def _hesitant_model() -> UNet:
    """A tiny U-Net whose lung probability is sigmoid(0.4) = 0.6 everywhere."""
    model = UNet(UNetConfig(depth=3, base=4)).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0.4]))
    return model


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_files_are_flagged_not_fatal(tmp_path: Path, workers: int) -> None:
    data = load_dataset(_pack(tmp_path), require_label=False)
    out = tmp_path / "p"
    counts = predict_dataset(data, out, _hesitant_model(), 32, batch_size=2, workers=workers,
                             qc_ranges=RANGES.to_dict())
    assert counts["images"] == 3 and counts["unreadable"] == 1 and counts["flagged"] == 3
    with (out / "regions.csv").open() as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == REGION_COLUMNS
        rows = {r["filename"]: r for r in reader}
    text = rows["text.png"]
    assert text["unreadable"] == "1" and text["mask"] == "" and "not an image" in text["reason"]
    assert not (out / "masks" / "text.png").exists()
    a = rows["a.png"]  # the whole image at p = 0.6: too large and hesitant
    assert a["unreadable"] == "0" and a["low_confidence"] == "1" and a["implausible_area"] == "1"
    assert a["implausible_shape"] == "1"
    assert float(a["confidence"]) == pytest.approx(0.599, abs=0.01)
    assert a["raw_components"] == "1" and (out / "masks" / "a.png").exists()
    # A rerun tries the unreadable file again and keeps the rest.
    assert predict_dataset(data, out, _hesitant_model(), 32, workers=0)["skipped"] == 2
    # predict_masks (segment eval) stops with one line naming the file.
    with pytest.raises(ImageReadError, match=r"text\.png: not an image"):
        list(predict_masks([data.image_path(r) for r in data.records], _hesitant_model(), 32,
                           workers=workers))
    kinds = [type(p).__name__ for _, p in predict_probabilities(
        [data.image_path(r) for r in data.records], _hesitant_model(), 32, workers=0)]
    assert kinds == ["ndarray", "ImageReadError", "ndarray"]
