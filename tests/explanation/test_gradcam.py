"""Grad-CAM: maps, hooks released, no memory growth, numbers by hand."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch

from hideseek.classification.models import ARCHITECTURES, build_model, target_layer
from hideseek.explanation import GradCAM, attribution_numbers, outside_region, summarise


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_maps_for_every_architecture(arch: str) -> None:
    model = build_model(arch, 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    x = torch.rand(2, 1, 64, 64)
    out = cam(x, {"predicted": None, "true": torch.tensor([0, 2])})
    assert out.maps["predicted"].shape == (2, 64, 64)
    assert (out.maps["true"] >= 0).all() and torch.isfinite(out.maps["true"]).all()
    assert not target_layer(model)._forward_hooks  # released


def test_hook_released_on_error() -> None:
    model = build_model("resnet18", 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    with pytest.raises(RuntimeError):
        cam(torch.rand(2, 5, 32, 32), {"predicted": None})  # wrong channel count
    assert not target_layer(model)._forward_hooks


def test_no_memory_growth_over_many_batches() -> None:
    model = build_model("resnet18", 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    x = torch.rand(8, 1, 32, 32)
    for _ in range(5):
        cam(x, {"predicted": None})
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(150):  # 1200 images
        cam(x, {"predicted": None, "true": torch.zeros(8, dtype=torch.long)})
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 2_000_000  # bytes of Python objects; leaked graphs or hooks would show


def test_attribution_numbers_by_hand() -> None:
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True  # half the image
    boxes = mask.copy()
    cam = np.zeros((10, 10))
    cam[:, :5] = 3.0
    cam[:, 5:] = 1.0
    n = attribution_numbers(cam, mask, boxes)
    assert n["lung_share"] == pytest.approx(0.75)
    assert n["lung_ratio"] == pytest.approx(1.5)
    assert n["box_share"] == pytest.approx(0.75) and n["pointing"] == 1.0
    assert np.isnan(attribution_numbers(np.zeros((10, 10)), mask, boxes)["lung_ratio"])


def test_outside_region_has_the_lung_area_and_avoids_the_lungs() -> None:
    mask = np.zeros((64, 64), bool)
    mask[10:40, 10:30] = True
    region = outside_region(mask, np.random.default_rng(0))
    assert not (region & mask).any()
    assert abs(int(region.sum()) - int(mask.sum())) <= 64


def test_summarise_shape() -> None:
    rows = [{"label": "normal", "lung_share": 0.5, "lung_ratio": 2.0, "box_share": 0.6,
             "pointing": 1.0, "occlusion": 0.1} for _ in range(5)]
    s = summarise(rows, ["normal", "COVID-19"], n_boot=50)
    assert s["normal"]["lung_ratio"]["value"] == pytest.approx(2.0)
    assert s["COVID-19"]["n"] == 0 and s["all"]["n"] == 5
