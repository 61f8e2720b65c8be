"""A segmentation architecture from outside the package: one module, one registration."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hideseek.data import load_dataset, read_mask
from hideseek.engine import atomic_save
from hideseek.errors import HideseekError
from hideseek.segmentation import (
    load_segmenter,
    predict_dataset,
    predict_masks,
    register_segmenter,
    segmenter_kinds,
)

KIND = "test-threshold-segmenter"


class ThresholdNet(nn.Module):
    """Lung where the image is brighter than ``level`` (a 1x1 convolution, fixed weights)."""

    multiple = 1

    def __init__(self, level: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([-40.0, 40.0]).view(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([40.0 * level, -40.0 * level]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _load(ckpt: Mapping[str, Any]) -> nn.Module:
    net = ThresholdNet(float(ckpt["level"]))
    net.load_state_dict(ckpt["state_dict"])
    return net


register_segmenter(KIND, _load)


def _save(path: Path, level: float) -> Path:
    net = ThresholdNet(level)
    return atomic_save(path, {"kind": KIND, "level": level, "image_size": 32,
                              "state_dict": net.state_dict(), "meta": {"level": level}})


def test_a_registered_kind_loads_and_predicts(phantom_lungs: Path, tmp_path: Path) -> None:
    assert segmenter_kinds()[:1] == ("hideseek-unet",) and KIND in segmenter_kinds()
    data = load_dataset(phantom_lungs)
    sub = data.with_records(data.records[:4])
    model, size, meta = load_segmenter(_save(tmp_path / "m.pt", level=-1.0))
    assert isinstance(model, ThresholdNet) and not model.training
    assert (size, meta) == (32, {"level": -1.0})
    paths = [sub.image_path(r) for r in sub.records]
    masks = dict(predict_masks(paths, model, size, batch_size=2, workers=0))
    assert sorted(masks) == [0, 1, 2, 3] and all(m.all() for m in masks.values())  # all > -1
    dark, _, _ = load_segmenter(_save(tmp_path / "dark.pt", level=2.0))
    counts = predict_dataset(sub, tmp_path / "pred", dark, size, batch_size=2, workers=0)
    assert counts["images"] == 4 and counts["empty"] == 4  # nothing is brighter than 2
    rows = list(csv.DictReader((tmp_path / "pred" / "regions.csv").open()))
    assert not read_mask(tmp_path / "pred" / "masks" / rows[0]["mask"]).any()


def test_unknown_kind_and_double_registration(tmp_path: Path) -> None:
    atomic_save(tmp_path / "x.pt", {"kind": "no-such-net", "image_size": 32})
    with pytest.raises(HideseekError, match=r"x\.pt: not a hideseek segmentation checkpoint "
                       r"\(kind 'no-such-net'; known kinds: hideseek-unet"):
        load_segmenter(tmp_path / "x.pt")
    with pytest.raises(HideseekError, match="already registered"):
        register_segmenter(KIND, lambda ckpt: ThresholdNet(0.0))
    register_segmenter(KIND, _load)  # the same loader again: fine


def test_a_broken_checkpoint_of_a_known_kind(tmp_path: Path) -> None:
    atomic_save(tmp_path / "b.pt", {"kind": KIND, "image_size": 32})  # no level, no weights
    with pytest.raises(HideseekError, match=rf"b\.pt: cannot build the {KIND} segmenter"):
        load_segmenter(tmp_path / "b.pt")
